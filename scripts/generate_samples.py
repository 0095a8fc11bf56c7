"""Write samples of a trained lstm_generator at several temperatures to one text file.

    python scripts/generate_samples.py MODEL OUTPUT.txt [--prompt "ROMEO:"] [--n 2]
        [--max-length 400] [--temperatures 0.2,0.5,0.8,1.0] [--seed 1]

Each temperature runs the public CLI, ``spacy lstm-generate MODEL --prompt ... --temperature T
--seed S``, so this is exactly what a user would type; the samples are collected under a
heading per temperature (low: safe and repetitive, high: varied and misspelt).
"""
import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model")
    parser.add_argument("output", type=Path)
    parser.add_argument("--prompt", default="ROMEO:")
    parser.add_argument("--n", type=int, default=2)
    parser.add_argument("--max-length", type=int, default=400)
    parser.add_argument("--temperatures", default="0.2,0.5,0.8,1.0")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    temperatures = [float(t) for t in args.temperatures.split(",") if t.strip()]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", ANSI_COLORS_DISABLED="1")
    sections = [f"# {args.model}, prompt {args.prompt!r}, {args.n} samples per temperature, seed {args.seed}\n"]
    for temperature in temperatures:
        cmd = [
            sys.executable, "-m", "spacy", "lstm-generate", args.model, "--prompt", args.prompt,
            "--n", str(args.n), "--max-length", str(args.max_length),
            "--temperature", str(temperature), "--seed", str(args.seed),
        ]
        start = time.perf_counter()
        result = subprocess.run(cmd, capture_output=True, text=True, env=env)
        seconds = time.perf_counter() - start
        if result.returncode:
            sys.stderr.write(result.stdout + result.stderr)
            raise SystemExit(f"`{' '.join(cmd[2:])}` failed (exit {result.returncode})")
        text = ANSI.sub("", result.stdout).strip()
        sections.append(f"\n=== temperature {temperature} ({seconds:.1f} s) ===\n{text}\n")
        print(f"temperature {temperature}: {args.n} samples in {seconds:.1f} s")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text("".join(sections), encoding="utf8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
