"""Turn a raw corpus into deterministic, stratified train/dev/test DocBins for `spacy train`.

    python scripts/make_corpus.py DATASET OUTPUT_DIR [--seed 0] [--limit N] [--dedupe]
        [--input PATH] [--text-field text] [--label-field label] [--label-sep "|"]

DATASET is one of mr, cornell, bbc, reuters (multilabel; read from assets/, see
scripts/fetch_assets.py),
imdb (``--input`` = the aclImdb folder), jsonl or csv (``--input`` = the file), or
shakespeare. Labelled datasets give OUTPUT_DIR/{train,dev,test}.spacy: docs from
``spacy.blank("en").make_doc`` with ``doc.cats`` set, split 80/10/10 per label (label set
for multilabel data). The same seed always gives byte-identical files, which is what lets
benchmark figures (the README's accuracy table) be compared across runs and machines.

IMDB keeps its official test set (the one published results use) and takes dev from the
official training half; ``--limit`` then draws from both halves in proportion.

shakespeare writes OUTPUT_DIR/train/shakespeare.txt (the first --train-chars characters of
the works concatenated in file-name order) and OUTPUT_DIR/dev/shakespeare.txt (the next
--dev-chars), the split the generator anchors were measured on.
"""
import argparse
import sys
from collections import Counter
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import corpora
import splits
from corpora import CorpusError, LabelledText

LABELLED = ("mr", "cornell", "bbc", "reuters", "imdb", "jsonl", "csv")


def load(args) -> Tuple[List[LabelledText], Optional[List[LabelledText]]]:
    """The documents to split, and a fixed test set for corpora that come with one."""
    name = args.dataset
    readers = {"mr": corpora.read_mr, "cornell": corpora.read_cornell, "bbc": corpora.read_bbc, "reuters": corpora.read_reuters}
    if name in readers:
        reader = readers[name]
        return list(reader(args.input or corpora.ASSET_PATHS[name])), None
    if args.input is None:
        raise SystemExit(f"{name} needs --input")
    if name == "imdb":
        return list(corpora.read_imdb(args.input, ["train"])), list(corpora.read_imdb(args.input, ["test"]))
    if name == "jsonl":
        return list(corpora.read_jsonl(args.input, args.text_field, args.label_field)), None
    return list(corpora.read_csv(args.input, args.text_field, args.label_field, args.label_sep)), None


def split(args, docs: List[LabelledText], fixed_test: Optional[List[LabelledText]]):
    if fixed_test is None:
        if args.limit:
            docs = splits.stratified_sample(docs, args.limit, args.seed)
        return splits.train_dev_test_split(docs, args.dev, args.test, args.seed)
    if args.limit:
        n_train = round(args.limit * len(docs) / (len(docs) + len(fixed_test)))
        docs = splits.stratified_sample(docs, n_train, args.seed)
        fixed_test = splits.stratified_sample(fixed_test, args.limit - n_train, args.seed)
    train, dev, _ = splits.train_dev_test_split(docs, args.dev, 0.0, args.seed)
    return train, dev, fixed_test


def write_docbin(docs: Sequence[LabelledText], path: Path) -> None:
    import spacy
    from spacy.tokens import DocBin

    nlp = spacy.blank("en")
    doc_bin = DocBin(store_user_data=False)
    for text, cats in docs:
        doc = nlp.make_doc(text)
        doc.cats = cats
        doc_bin.add(doc)
    doc_bin.to_disk(path)


def report(parts: dict) -> None:
    """Per-label counts per split, and any text shared between splits (a leak to know of)."""
    counts = {name: splits.label_counts(docs) for name, docs in parts.items()}
    labels = sorted(set().union(*counts.values()))
    width = max(len(l) for l in labels + ["label"])
    print(f"{'label':<{width}} " + " ".join(f"{name:>7}" for name in parts))
    for label in labels:
        print(f"{label:<{width}} " + " ".join(f"{counts[name][label]:>7}" for name in parts))
    print(f"{'docs':<{width}} " + " ".join(f"{len(docs):>7}" for docs in parts.values()))
    seen = Counter(text for docs in parts.values() for text in {t for t, _ in docs})
    shared = sum(1 for n in seen.values() if n > 1)
    if shared:
        print(f"note: {shared} texts occur in more than one split (duplicates in the raw data; --dedupe drops them)")


def make_shakespeare(args) -> None:
    text = corpora.read_plain_text(args.input or corpora.ASSET_PATHS["shakespeare"])
    needed = args.train_chars + args.dev_chars
    if len(text) < needed:
        raise CorpusError(args.input or corpora.ASSET_PATHS["shakespeare"], f"only {len(text):,} characters, {needed:,} needed", corpora.FETCH_HINT)
    for name, chunk in (("train", text[: args.train_chars]), ("dev", text[args.train_chars : needed])):
        out = args.output_dir / name
        out.mkdir(parents=True, exist_ok=True)
        (out / "shakespeare.txt").write_text(chunk, encoding="utf8", newline="")
        print(f"{name}: {len(chunk):,} characters -> {out / 'shakespeare.txt'}")
    print(f"({len(text) - needed:,} of {len(text):,} characters unused)")


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", choices=LABELLED + ("shakespeare",))
    parser.add_argument("output_dir", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=None, help="keep a stratified slice of N documents")
    parser.add_argument("--dev", type=float, default=0.1, help="dev fraction (default 0.1)")
    parser.add_argument("--test", type=float, default=0.1, help="test fraction (default 0.1; imdb uses its own)")
    parser.add_argument("--dedupe", action="store_true", help="drop repeated texts (keeps the first) before splitting")
    parser.add_argument("--input", type=Path, default=None, help="corpus file/folder (default: its assets/ path)")
    parser.add_argument("--text-field", default="text")
    parser.add_argument("--label-field", default="label")
    parser.add_argument("--label-sep", default=None, help="csv: separator of several labels in one cell (multilabel)")
    parser.add_argument("--train-chars", type=int, default=1_000_000)
    parser.add_argument("--dev-chars", type=int, default=110_000)
    args = parser.parse_args(argv)

    try:
        if args.dataset == "shakespeare":
            make_shakespeare(args)
            return 0
        docs, fixed_test = load(args)
    except CorpusError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    if args.dedupe:
        kept = {id(doc) for doc in splits.deduplicate(docs + (fixed_test or []))}
        before = len(docs) + len(fixed_test or [])
        docs = [d for d in docs if id(d) in kept]
        fixed_test = None if fixed_test is None else [d for d in fixed_test if id(d) in kept]
        print(f"dedupe: dropped {before - len(kept)} repeated texts")
    parts = dict(zip(("train", "dev", "test"), split(args, docs, fixed_test)))
    args.output_dir.mkdir(parents=True, exist_ok=True)
    for name, part in parts.items():
        write_docbin(part, args.output_dir / f"{name}.spacy")
    report(parts)
    print(f"wrote {', '.join(f'{name}.spacy' for name in parts)} to {args.output_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
