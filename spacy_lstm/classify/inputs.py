"""Input of `spacy lstm-classify`: paths, globs and folders -> a stream of records.

Readers turn input files (JSONL, CSV/TSV, plain text with one document per line, folders of
``.txt`` files, any of them gzipped) into :class:`Record` objects. Every record, good or bad,
gets a stable sequential position ``seq`` (0-based, in deterministic input order) and a
location (``file:line`` or the file name). Bad records carry an ``error`` reason instead of a
text and go to the error file: a batch job never stops for one bad record. Memory stays flat:
files are read line by line.
"""
import csv
import glob
import gzip
import io
import json
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

from ..errors import BatchError

FORMATS = ("auto", "jsonl", "csv", "tsv", "txt")
RAW_SNIPPET_CHARS = 200


@dataclass(slots=True)
class Record:
    """One input record: its position ``seq`` in the input, its id, the text (None for a bad
    record), kept fields, where it came from, and ``error`` (None, or why it is bad) with a
    snippet of the ``raw`` input."""

    seq: int
    id: Any
    text: Optional[str]
    extra: Optional[Dict[str, Any]]
    source: str
    line: Optional[int]
    error: Optional[str] = None
    raw: Optional[str] = None

    @property
    def location(self) -> str:
        return f"{self.source}:{self.line}" if self.line is not None else self.source


@dataclass(slots=True)
class Source:
    """One input file. ``kind`` is the record format; ``name`` is used in ids."""

    path: Path
    kind: str
    name: str


def _strip_gz(name: str) -> str:
    return name[:-3] if name.lower().endswith(".gz") else name


def _kind_for(path: Path, fmt: str) -> str:
    if fmt != "auto":
        return fmt
    suffix = Path(_strip_gz(path.name)).suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix == ".csv":
        return "csv"
    if suffix == ".tsv":
        return "tsv"
    return "txt"


def _is_doc_file(path: Path) -> bool:
    name = path.name.lower()
    return name.endswith(".txt") or name.endswith(".txt.gz")


def expand_inputs(inputs: Sequence[str], fmt: str = "auto") -> List[Source]:
    """Expand paths, glob patterns and folders into an ordered list of sources.

    Order is deterministic: inputs in the order given, glob matches sorted,
    folders walked recursively with their files sorted by relative path. A file
    inside a folder is one document (``kind == "doc"``), named by its path
    relative to the folder (the aclImdb layout gives ids like ``pos/0_10.txt``).
    """
    if fmt not in FORMATS:
        raise BatchError(f"Unknown input format '{fmt}', expected one of {', '.join(FORMATS)}")
    sources: List[Source] = []
    for raw in inputs:
        raw = str(raw)
        if glob.has_magic(raw):
            matches = sorted(glob.glob(raw, recursive=True))
            if not matches:
                raise BatchError(f"No input matches the pattern '{raw}'")
            paths = [Path(m) for m in matches]
        else:
            paths = [Path(raw)]
        for path in paths:
            if path.is_dir():
                files = sorted(
                    (p for p in path.rglob("*") if p.is_file() and _is_doc_file(p)),
                    key=lambda p: p.relative_to(path).parts,
                )
                if not files:
                    raise BatchError(f"Folder '{path}' contains no .txt or .txt.gz files")
                for f in files:
                    sources.append(Source(f, "doc", f.relative_to(path).as_posix()))
            elif path.is_file():
                sources.append(Source(path, _kind_for(path, fmt), str(path)))
            else:
                raise BatchError(f"Input not found: '{path}'")
    if not sources:
        raise BatchError("No input given")
    return sources


def _snippet(data: Any) -> str:
    if isinstance(data, bytes):
        data = data.decode("utf8", errors="replace")
    data = str(data).rstrip("\r\n")
    return data if len(data) <= RAW_SNIPPET_CHARS else data[:RAW_SNIPPET_CHARS] + "..."


class _Opened:
    """A binary file handle that may be gzipped, plus the raw handle for ``tell``."""

    def __init__(self, path: Path, data: Optional[bytes] = None):
        self.raw = open(path, "rb") if data is None else io.BytesIO(data)
        if path.name.lower().endswith(".gz"):
            self.fh = gzip.GzipFile(fileobj=self.raw, mode="rb")
        else:
            self.fh = self.raw

    def close(self) -> None:
        if self.fh is not self.raw:
            self.fh.close()
        self.raw.close()


_STREAM_ERRORS = (EOFError, OSError, zlib.error, gzip.BadGzipFile)


def _binary_lines(opened: _Opened) -> Iterator[Tuple[int, bytes]]:
    for lineno, line in enumerate(opened.fh, start=1):
        yield lineno, line


class RecordReader:
    """Iterate :class:`Record` objects from a list of :class:`Source`.

    ``progress`` is the number of input bytes consumed so far (compressed bytes
    for gzip) or, when every source is a document file, the number of files;
    ``total`` is the matching total. ``counts`` tallies records per outcome.
    """

    def __init__(
        self,
        sources: Sequence[Source],
        text_field: str = "text",
        id_field: Optional[str] = "id",
        keep_fields: Sequence[str] = (),
        start_seq: int = 0,
    ):
        self.sources = list(sources)
        self.text_field = text_field
        self.id_field = id_field or None
        self.keep_fields = list(keep_fields)
        self.by_files = all(s.kind == "doc" for s in self.sources)
        if self.by_files:
            self.total = len(self.sources)
        else:
            self.total = sum(_safe_size(s.path) for s in self.sources)
        self.progress = 0
        self._done_bytes = 0
        self._seq = start_seq

    # -- helpers -------------------------------------------------------------
    def _next_seq(self) -> int:
        seq = self._seq
        self._seq += 1
        return seq

    def _bad(self, source: Source, line: Optional[int], reason: str, raw: Any = None, id=None) -> Record:
        return Record(self._next_seq(), id, None, None, source.name, line, reason, _snippet(raw) if raw is not None else None)

    def _good(self, source: Source, line: Optional[int], text: str, obj: Optional[Dict[str, Any]]) -> Record:
        rid = None
        if obj is not None and self.id_field is not None:
            rid = obj.get(self.id_field)
        if rid is None:
            rid = f"{source.name}:{line}" if line is not None else source.name
        extra = None
        if self.keep_fields:
            extra = {k: (obj.get(k) if obj is not None else None) for k in self.keep_fields}
        return Record(self._next_seq(), rid, text, extra, source.name, line)

    def _check_text(self, source: Source, line: int, obj: Dict[str, Any], raw: Any) -> Record:
        if self.text_field not in obj:
            return self._bad(source, line, f"missing text field '{self.text_field}'", raw)
        text = obj[self.text_field]
        if not isinstance(text, str):
            return self._bad(
                source, line,
                f"text field '{self.text_field}' is not a string (got {type(text).__name__})", raw,
            )
        return self._good(source, line, text, obj)

    # -- formats -------------------------------------------------------------
    def _read_jsonl(self, source: Source, opened: _Opened) -> Iterator[Record]:
        for lineno, line in _binary_lines(opened):
            if not line.strip():
                continue
            try:
                decoded = line.decode("utf8")
            except UnicodeDecodeError as e:
                yield self._bad(source, lineno, f"undecodable bytes (not UTF-8): {e.reason} at byte {e.start}", line)
                continue
            if lineno == 1:
                decoded = decoded.lstrip("\ufeff")
            try:
                obj = json.loads(decoded)
            except ValueError as e:
                yield self._bad(source, lineno, f"invalid JSON: {e}", decoded)
                continue
            if not isinstance(obj, dict):
                yield self._bad(source, lineno, f"JSON value is not an object (got {type(obj).__name__})", decoded)
                continue
            yield self._check_text(source, lineno, obj, decoded)

    def _read_txt(self, source: Source, opened: _Opened) -> Iterator[Record]:
        for lineno, line in _binary_lines(opened):
            if not line.strip():
                continue  # blank lines separate nothing and are not documents
            try:
                text = line.decode("utf8").rstrip("\r\n")
            except UnicodeDecodeError as e:
                yield self._bad(source, lineno, f"undecodable bytes (not UTF-8): {e.reason} at byte {e.start}", line)
                continue
            if lineno == 1:
                text = text.lstrip("\ufeff")
            yield self._good(source, lineno, text, None)

    def _read_csv(self, source: Source, opened: _Opened, delimiter: str) -> Iterator[Record]:
        # Decode with surrogateescape so that one bad byte spoils only its row.
        text_lines = (
            line.decode("utf8", errors="surrogateescape") for _, line in _binary_lines(opened)
        )
        reader = csv.reader(text_lines, delimiter=delimiter)
        header: Optional[List[str]] = None
        last_line = 0
        while True:
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as e:
                start, last_line = last_line + 1, reader.line_num
                if header is None:
                    raise BatchError(f"{source.name}: unreadable CSV header: {e}")
                yield self._bad(source, start, f"malformed CSV: {e}")
                continue
            start, last_line = last_line + 1, reader.line_num
            if not row:
                continue
            if header is None:
                header = [h.lstrip("\ufeff").strip() for h in row]
                if self.text_field not in header:
                    raise BatchError(
                        f"{source.name}: no column named '{self.text_field}' "
                        f"(columns: {', '.join(header)}); set --text-field"
                    )
                continue
            try:
                "\x1f".join(row).encode("utf8")
            except UnicodeEncodeError:
                yield self._bad(source, start, "undecodable bytes (not UTF-8)",
                                delimiter.join(row).encode("utf8", "surrogateescape"))
                continue
            if len(row) != len(header):
                yield self._bad(
                    source, start,
                    f"wrong number of columns: expected {len(header)}, got {len(row)}",
                    delimiter.join(row),
                )
                continue
            obj = dict(zip(header, row))
            yield self._good(source, start, obj[self.text_field], obj)

    def _read_doc(self, source: Source, opened: _Opened) -> Iterator[Record]:
        data = opened.fh.read()
        try:
            text = data.decode("utf8").lstrip("\ufeff")
        except UnicodeDecodeError as e:
            yield self._bad(source, None, f"undecodable bytes (not UTF-8): {e.reason} at byte {e.start}", data)
            return
        yield self._good(source, None, text, None)

    # -- iteration -------------------------------------------------------------
    def __iter__(self) -> Iterator[Record]:
        for source in self.sources:
            yield from self.read_source(source)
            if self.by_files:
                self.progress += 1
            else:
                self._done_bytes += _safe_size(source.path)
                self.progress = self._done_bytes

    def read_source(self, source: Source, data: Optional[bytes] = None) -> Iterator[Record]:
        """Records of one source; ``data`` is the file content if already read."""
        try:
            opened = _Opened(source.path, data)
        except OSError as e:
            yield self._bad(source, None, f"cannot open file: {e}")
            return
        last_line = 0
        try:
            if source.kind == "jsonl":
                it = self._read_jsonl(source, opened)
            elif source.kind in ("csv", "tsv"):
                it = self._read_csv(source, opened, "\t" if source.kind == "tsv" else ",")
            elif source.kind == "doc":
                it = self._read_doc(source, opened)
            else:
                it = self._read_txt(source, opened)
            while True:
                try:
                    rec = next(it)
                except StopIteration:
                    break
                except _STREAM_ERRORS as e:
                    # A corrupt/truncated (gzip) stream: record it and go on with the next file.
                    yield self._bad(source, last_line + 1 if source.kind != "doc" else None,
                                    f"unreadable input stream, rest of file skipped: {e}")
                    break
                if rec.line is not None:
                    last_line = rec.line
                if not self.by_files:
                    try:
                        self.progress = self._done_bytes + opened.raw.tell()
                    except (OSError, ValueError):
                        pass
                yield rec
        finally:
            opened.close()


def _safe_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0

