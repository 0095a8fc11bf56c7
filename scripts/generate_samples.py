"""Write samples of a trained lstm_generator at several temperatures to one text file.

    python scripts/generate_samples.py MODEL OUTPUT.txt [--prompt "ROMEO:"] [--n 2]
        [--max-length 400] [--temperatures 0.2,0.5,0.8,1.0] [--seed 1]

The pipeline is loaded once and each temperature calls the component's `generate` (what
`spacy lstm-generate MODEL --prompt ... --temperature T --seed S` runs); the samples are
collected under a heading per temperature (low: safe and repetitive, high: varied and
misspelt).
"""
import argparse
import sys
import time
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model")
    parser.add_argument("output", type=Path)
    parser.add_argument("--prompt", default="ROMEO:")
    parser.add_argument("--n", type=int, default=2)
    parser.add_argument("--max-length", type=int, default=400)
    parser.add_argument("--temperatures", default="0.2,0.5,0.8,1.0")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--component", default="lstm_generator")
    args = parser.parse_args()

    import spacy

    temperatures = [float(t) for t in args.temperatures.split(",") if t.strip()]
    generator = spacy.load(args.model).get_pipe(args.component)
    sections = [f"# {args.model}, prompt {args.prompt!r}, {args.n} samples per temperature, seed {args.seed}\n"]
    for temperature in temperatures:
        start = time.perf_counter()
        texts = generator.generate(
            args.prompt, n=args.n, max_length=args.max_length, temperature=temperature, seed=args.seed
        )
        seconds = time.perf_counter() - start
        samples = "".join(f"--- sample {i} ---\n{args.prompt}{text}\n" for i, text in enumerate(texts, start=1))
        sections.append(f"\n=== temperature {temperature} ({seconds:.1f} s) ===\n{samples}")
        print(f"temperature {temperature}: {args.n} samples in {seconds:.1f} s")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text("".join(sections), encoding="utf8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
