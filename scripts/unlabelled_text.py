"""Collect unlabelled text for pretraining the language model (`spacy project run pretrain`).

    python scripts/unlabelled_text.py OUTPUT_DIR [--corpora corpus/mr corpus/cornell ...]
        [--extra PATH ...] [--imdb-dir assets/aclImdb] [--dev-fraction 0.02] [--seed 0]

Writes OUTPUT_DIR/train.jsonl and OUTPUT_DIR/dev.jsonl ({"text": ...} per line) from:
* the *training* split of each corpus folder given (train.spacy): never dev or test, so a
  classifier evaluated on those splits has not seen their text, labelled or not;
* `--extra`: your own unlabelled text (a .txt file with one text per line, a .jsonl file
  with a "text" field, or a folder of .txt files, one text each);
* the `unsup/` folder of an aclImdb tree (50,000 unlabelled movie reviews), when present.
A small random share (`--dev-fraction`) is held out as the language model's dev set.
"""
import argparse
import json
import random
import sys
from pathlib import Path
from typing import Iterator, List


def corpus_texts(folder: Path) -> Iterator[str]:
    import spacy
    from spacy.tokens import DocBin

    nlp = spacy.blank("en")
    for doc in DocBin().from_disk(folder / "train.spacy").get_docs(nlp.vocab):
        yield doc.text


def extra_texts(path: Path) -> Iterator[str]:
    if path.is_dir():
        for file in sorted(path.rglob("*.txt")):
            yield file.read_text(encoding="utf8", errors="replace")
    elif path.suffix == ".jsonl":
        with path.open(encoding="utf8") as f:
            for n, line in enumerate(f, 1):
                if line.strip():
                    record = json.loads(line)
                    if not isinstance(record, dict) or not isinstance(record.get("text"), str):
                        raise SystemExit(f"{path}:{n}: each line must be a JSON object with a \"text\" string")
                    yield record["text"]
    else:
        with path.open(encoding="utf8", errors="replace") as f:
            yield from (line.rstrip("\n") for line in f)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("output_dir", type=Path)
    parser.add_argument("--corpora", nargs="*", type=Path, default=[], help="corpus folders with a train.spacy")
    parser.add_argument("--extra", nargs="*", default=[], help="your unlabelled text files or folders (\"\" is ignored)")
    parser.add_argument("--imdb-dir", type=Path, default=None)
    parser.add_argument("--dev-fraction", type=float, default=0.02)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    texts: List[str] = []
    counts = {}
    for folder in dict.fromkeys(path.resolve() for path in args.corpora):  # each folder once
        if (folder / "train.spacy").is_file():
            before = len(texts)
            texts.extend(corpus_texts(folder))
            counts[str(folder)] = len(texts) - before
    for name in filter(None, args.extra):
        path = Path(name)
        if not path.exists():
            raise SystemExit(f"--extra {path}: not found")
        before = len(texts)
        texts.extend(extra_texts(path))
        counts[str(path)] = len(texts) - before
    if args.imdb_dir is not None and (args.imdb_dir / "train" / "unsup").is_dir():
        before = len(texts)
        texts.extend(extra_texts(args.imdb_dir / "train" / "unsup"))
        counts[str(args.imdb_dir / "train" / "unsup")] = len(texts) - before
    texts = [t for t in texts if t.strip()]
    if not texts:
        raise SystemExit("no unlabelled text found: run `spacy project run corpus` first or pass --extra PATH")
    random.Random(args.seed).shuffle(texts)
    n_dev = max(1, int(len(texts) * args.dev_fraction))
    args.output_dir.mkdir(parents=True, exist_ok=True)
    for name, part in (("dev", texts[:n_dev]), ("train", texts[n_dev:])):
        with (args.output_dir / f"{name}.jsonl").open("w", encoding="utf8") as f:
            for text in part:
                f.write(json.dumps({"text": text}) + "\n")
    for source, n in counts.items():
        print(f"{source}: {n} texts")
    print(f"wrote {len(texts) - n_dev} training and {n_dev} dev texts to {args.output_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
