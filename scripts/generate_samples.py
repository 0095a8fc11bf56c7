"""Write samples of a trained lstm_generator at several temperatures to one text file.

    python scripts/generate_samples.py MODEL OUTPUT.txt [--prompt "ROMEO:"] [--n 2]
        [--max-length 400] [--temperatures 0.2,0.5,0.8,1.0] [--seed 1] [--train-text DIR_OR_FILE]

The pipeline is loaded once, in this one process, and each temperature calls the component's
`generate` (what `spacy lstm-generate MODEL --prompt ... --temperature T --seed S` runs); the
samples are collected under a heading per temperature (low: safe and repetitive, high:
varied and misspelt), after the training figures (held-out bits per character read as one
stream and window by window, from the pipeline's meta.json) and, with --train-text, the
share of generated words (split on whitespace) that occur in the training text, per
temperature.
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
    parser.add_argument("--train-text", type=Path, default=None, help="training text (a .txt file or a folder of them) for the real-word share")
    args = parser.parse_args()

    import spacy

    from spacy_lstm.generator.generation import real_word_share

    temperatures = [float(t) for t in args.temperatures.split(",") if t.strip()]
    nlp = spacy.load(args.model)
    generator = nlp.get_pipe(args.component)
    performance = nlp.meta.get("performance", {})
    sections = [f"# {args.model}, prompt {args.prompt!r}, {args.n} samples per temperature, seed {args.seed}\n"]
    figures = [f"{key} {performance[key]:.3f}" for key in ("lstm_bpc", "lstm_window_bpc") if performance.get(key) is not None]
    if figures:
        sections.append("# held-out bits per character (stream, as generated; window by window): " + ", ".join(figures) + "\n")
    train_text = None
    if args.train_text is not None:
        files = sorted(args.train_text.rglob("*.txt")) if args.train_text.is_dir() else [args.train_text]
        train_text = "".join(f.read_text(encoding="utf8") for f in files)
    for temperature in temperatures:
        start = time.perf_counter()
        texts = generator.generate(
            args.prompt, n=args.n, max_length=args.max_length, temperature=temperature, seed=args.seed
        )
        seconds = time.perf_counter() - start
        samples = "".join(f"--- sample {i} ---\n{args.prompt}{text}\n" for i, text in enumerate(texts, start=1))
        real = ""
        if train_text is not None:
            real = f", {real_word_share(texts, train_text):.0%} of the words occur in the training text"
        sections.append(f"\n=== temperature {temperature} ({seconds:.1f} s{real}) ===\n{samples}")
        print(f"temperature {temperature}: {args.n} samples in {seconds:.1f} s{real}")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text("".join(sections), encoding="utf8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
