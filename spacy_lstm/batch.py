"""Streaming, resumable batch classification (``spacy lstm-classify``).

Three parts:

* **Readers** turn input paths (JSONL, CSV/TSV, plain text with one document per
  line, folders of ``.txt`` files, any of them gzipped) into a stream of
  :class:`Record` objects. Every record, good or bad, gets a stable sequential
  position ``seq`` (0-based, in deterministic input order) and a location
  (``file:line`` or the file name). Bad records carry an ``error`` reason
  instead of a text. Memory stays flat: files are read line by line.
* **The exactly-once writer** (:class:`ExactlyOnceWriter`) appends whole JSONL
  lines to ``<output>`` and ``<output>.errors.jsonl`` and flushes once per batch.
  Both files start every line with ``{"seq":N,`` and are append-only in
  increasing ``seq``. On ``--resume`` a trailing partial line (from a crash in
  the middle of a write) is truncated, and the set of committed positions is
  read back *as a stream* from both files and merged with the input stream:
  a record is skipped iff its ``seq`` is already in one of the two files. That
  holds even when the crash happened between the flush of the error file and
  the flush of the output file, which a single "max committed position" cannot
  express, and it needs no memory beyond two file cursors.
* **The local engine** (:func:`classify`) feeds the good records to
  ``nlp.pipe(..., as_tuples=True)`` and writes the predictions.
"""
import csv
import glob
import gzip
import io
import json
import os
import re
import sys
import time
import zlib
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import srsly

# Exit status of the CLI, documented in the README.
EXIT_OK = 0
EXIT_FATAL = 1
EXIT_RECORD_ERRORS = 2
EXIT_INTERRUPTED = 130

FORMATS = ("auto", "jsonl", "csv", "tsv", "txt")
ERRORS_SUFFIX = ".errors.jsonl"
DEFAULT_OUTPUT_NAME = "predictions.jsonl"
RAW_SNIPPET_CHARS = 200
_SEQ_RE = re.compile(rb'^\{"seq":\s*(\d+)\s*,')


class BatchError(Exception):
    """A fatal problem (bad arguments, unreadable model, refusing to overwrite)."""


class Record:
    """One input record. ``error`` is None for a good record, else the reason."""

    __slots__ = ("seq", "id", "text", "extra", "source", "line", "error", "raw")

    def __init__(self, seq, id, text, extra, source, line, error=None, raw=None):
        self.seq = seq
        self.id = id
        self.text = text
        self.extra = extra
        self.source = source
        self.line = line
        self.error = error
        self.raw = raw

    @property
    def location(self) -> str:
        return f"{self.source}:{self.line}" if self.line is not None else self.source

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"Record(seq={self.seq}, id={self.id!r}, error={self.error!r})"


# ----------------------------------------------------------------------------
# Input discovery
# ----------------------------------------------------------------------------

class Source:
    """One input file. ``kind`` is the record format; ``name`` is used in ids."""

    __slots__ = ("path", "kind", "name")

    def __init__(self, path: Path, kind: str, name: str):
        self.path = path
        self.kind = kind
        self.name = name

    def __repr__(self) -> str:  # pragma: no cover
        return f"Source({self.name!r}, {self.kind})"


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


# ----------------------------------------------------------------------------
# Record readers
# ----------------------------------------------------------------------------

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


# ----------------------------------------------------------------------------
# Exactly-once writer
# ----------------------------------------------------------------------------

def resolve_output(output: Path) -> Path:
    """A folder (existing, or spelled with a trailing slash) gets predictions.jsonl."""
    if output.is_dir() or str(output).endswith(("/", os.sep)):
        return output / DEFAULT_OUTPUT_NAME
    return output


def errors_path_for(output: Path) -> Path:
    """``<output>.errors.jsonl`` next to the output (predictions.jsonl.errors.jsonl)."""
    return output.with_name(output.name + ERRORS_SUFFIX)


def truncate_partial_line(path: Path) -> int:
    """Cut a trailing line that has no newline (a write interrupted by a crash).
    Returns the number of bytes removed."""
    if not path.exists():
        return 0
    with open(path, "r+b") as fh:
        fh.seek(0, os.SEEK_END)
        end = fh.tell()
        pos = end
        chunk = 1 << 16
        while pos > 0:
            start = max(0, pos - chunk)
            fh.seek(start)
            data = fh.read(pos - start)
            idx = data.rfind(b"\n")
            if idx != -1:
                keep = start + idx + 1
                break
            pos = start
        else:
            keep = 0
        if keep != end:
            fh.truncate(keep)
        return end - keep


def iter_committed_seqs(path: Path) -> Iterator[int]:
    """Stream the ``seq`` of every line of an output/error file (in file order)."""
    if not path.exists():
        return
    with open(path, "rb") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            m = _SEQ_RE.match(line)
            if m:
                yield int(m.group(1))
                continue
            try:
                seq = json.loads(line)["seq"]
            except (ValueError, KeyError, TypeError):
                raise BatchError(
                    f"{path}:{lineno} was not written by lstm-classify (no 'seq'); "
                    "cannot resume from it. Use --overwrite to start again."
                )
            yield int(seq)


class _DoneSet:
    """Membership test for committed positions, for increasing queries, by
    merging the (sorted) seq streams of the output and error files."""

    def __init__(self, *streams: Iterator[int]):
        self._streams = [iter(s) for s in streams]
        self._heads: List[Optional[int]] = [next(s, None) for s in self._streams]

    def exhausted(self) -> bool:
        return all(h is None for h in self._heads)

    def __contains__(self, seq: int) -> bool:
        found = False
        for i, s in enumerate(self._streams):
            head = self._heads[i]
            while head is not None and head < seq:
                head = next(s, None)
            if head == seq:
                found = True
                head = next(s, None)
            self._heads[i] = head
        return found


def _count_lines(path: Path) -> int:
    if not path.exists():
        return 0
    n = 0
    with open(path, "rb") as fh:
        for line in fh:
            if line.strip():
                n += 1
    return n


class ExactlyOnceWriter:
    """Append-only JSONL writer for predictions and bad records.

    Lines are buffered per batch and written with one ``write`` per file
    followed by ``flush``; ``commit()`` is the only place data reaches disk.
    """

    def __init__(self, output: Path, resume: bool = False, overwrite: bool = False):
        self.output = Path(output)
        self.errors_path = errors_path_for(self.output)
        self.resume = resume
        self.overwrite = overwrite
        self._out_buf: List[str] = []
        self._err_buf: List[str] = []
        self._out_fh = None
        self._err_fh = None
        self.done: Optional[_DoneSet] = None
        self.previous_outputs = 0
        self.previous_errors = 0
        self.truncated_bytes = 0

    def open(self) -> "ExactlyOnceWriter":
        existing = [p for p in (self.output, self.errors_path) if p.exists() and p.stat().st_size > 0]
        if existing and not self.resume and not self.overwrite:
            raise BatchError(
                f"Output '{existing[0]}' already exists and is not empty. Use --resume to "
                "continue an interrupted run, or --overwrite to start from scratch."
            )
        self.output.parent.mkdir(parents=True, exist_ok=True)
        if self.resume and not self.overwrite:
            for p in (self.output, self.errors_path):
                self.truncated_bytes += truncate_partial_line(p)
            self.previous_outputs = _count_lines(self.output)
            self.previous_errors = _count_lines(self.errors_path)
            if self.previous_outputs or self.previous_errors:
                self.done = _DoneSet(
                    iter_committed_seqs(self.output), iter_committed_seqs(self.errors_path)
                )
            self._out_fh = open(self.output, "ab")
            if self.errors_path.exists():
                self._err_fh = open(self.errors_path, "ab")
        else:
            self._out_fh = open(self.output, "wb")
            if self.errors_path.exists():
                self.errors_path.unlink()
        return self

    def is_done(self, seq: int) -> bool:
        if self.done is None:
            return False
        if seq in self.done:
            return True
        if self.done.exhausted():
            self.done = None
        return False

    @staticmethod
    def _line(seq: int, payload: Dict[str, Any]) -> str:
        body = srsly.json_dumps(payload)
        return '{"seq":%d,%s\n' % (seq, body[1:]) if len(body) > 2 else '{"seq":%d}\n' % seq

    def add_output(self, seq: int, payload: Dict[str, Any]) -> None:
        self._out_buf.append(self._line(seq, payload))

    def add_error(self, record: Record) -> None:
        self._err_buf.append(self._line(record.seq, self.error_payload(record)))

    def add_raw(self, seq: int, payload_json: str, is_error: bool) -> None:
        """Add a line whose payload (a JSON object without ``seq``) is already serialized."""
        line = '{"seq":%d,%s\n' % (seq, payload_json[1:]) if len(payload_json) > 2 else '{"seq":%d}\n' % seq
        (self._err_buf if is_error else self._out_buf).append(line)

    @staticmethod
    def error_payload(record: Record) -> Dict[str, Any]:
        payload: Dict[str, Any] = {"id": record.id if record.id is not None else record.location,
                                   "location": record.location, "source": record.source,
                                   "line": record.line, "reason": record.error}
        if record.raw is not None:
            payload["raw"] = record.raw
        return payload

    def commit(self) -> None:
        if self._err_buf:
            if self._err_fh is None:
                self._err_fh = open(self.errors_path, "ab")
            self._err_fh.write("".join(self._err_buf).encode("utf8"))
            self._err_fh.flush()
            self._err_buf.clear()
        if self._out_buf:
            self._out_fh.write("".join(self._out_buf).encode("utf8"))
            self._out_fh.flush()
            self._out_buf.clear()

    def close(self, commit: bool = True) -> None:
        if commit:
            self.commit()
        for fh in (self._out_fh, self._err_fh):
            if fh is not None:
                fh.close()
        self._out_fh = self._err_fh = None


# ----------------------------------------------------------------------------
# The local engine
# ----------------------------------------------------------------------------

class Summary:
    def __init__(self):
        self.read = 0
        self.classified = 0
        self.errors = 0
        self.skipped = 0
        self.previous_errors = 0
        self.seconds = 0.0
        self.interrupted = False
        self.output: Optional[Path] = None
        self.errors_path: Optional[Path] = None

    @property
    def docs_per_second(self) -> float:
        return self.classified / self.seconds if self.seconds > 0 else 0.0

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return EXIT_INTERRUPTED
        return EXIT_RECORD_ERRORS if (self.errors or self.previous_errors) else EXIT_OK

    def as_dict(self) -> Dict[str, Any]:
        return {
            "read": self.read, "classified": self.classified, "errors": self.errors,
            "skipped_resumed": self.skipped, "seconds": round(self.seconds, 3),
            "docs_per_second": round(self.docs_per_second, 1), "exit_code": self.exit_code,
        }


def prediction_payload(rid: Any, cats: Dict[str, float], extra: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    cats = {k: float(v) for k, v in cats.items()}
    if cats:
        label = max(cats, key=cats.__getitem__)
        score = cats[label]
    else:
        label, score = None, None
    payload: Dict[str, Any] = {"id": rid, "label": label, "score": score, "cats": cats}
    if extra:
        for k, v in extra.items():
            if k not in payload:
                payload[k] = v
    return payload


class _Progress:
    def __init__(self, reader: RecordReader, quiet: bool, initial_docs: int = 0):
        self.reader = reader
        self.bar = None
        self.t0 = time.perf_counter()
        self.docs = 0
        if quiet:
            return
        from tqdm import tqdm

        if reader.by_files:
            self.bar = tqdm(total=reader.total, unit="doc", dynamic_ncols=True, file=sys.stderr)
        else:
            self.bar = tqdm(total=reader.total, unit="B", unit_scale=True, unit_divisor=1024,
                            dynamic_ncols=True, file=sys.stderr)

    def update(self, docs: int) -> None:
        self.docs += docs
        if self.bar is None:
            return
        delta = self.reader.progress - self.bar.n
        if delta > 0:
            self.bar.update(delta)
        elapsed = time.perf_counter() - self.t0
        if not self.reader.by_files:
            self.bar.set_postfix_str(f"{self.docs / elapsed if elapsed else 0:.0f} docs/s", refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def load_pipeline(model: str):
    import spacy

    try:
        return spacy.load(model)
    except Exception as e:  # noqa: BLE001 - any load failure is fatal for the CLI
        raise BatchError(f"Cannot load pipeline '{model}': {e}") from e


def classify(
    nlp_or_model: Any,
    inputs: Sequence[str],
    output: Path,
    *,
    text_field: str = "text",
    id_field: Optional[str] = "id",
    keep_fields: Sequence[str] = (),
    input_format: str = "auto",
    batch_size: int = 1000,
    n_process: int = 1,
    resume: bool = False,
    overwrite: bool = False,
    quiet: bool = True,
    on_commit: Optional[Callable[[Summary], None]] = None,
) -> Summary:
    """Classify every record of ``inputs`` into ``output`` (local engine).

    ``nlp_or_model`` is a loaded ``Language`` or a name/path for ``spacy.load``.
    Raises :class:`BatchError` for fatal problems; record errors go to the
    error file and are counted in the returned :class:`Summary`.
    """
    if batch_size < 1:
        raise BatchError("--batch-size must be >= 1")
    sources = expand_inputs(inputs, input_format)
    output = resolve_output(Path(output))
    writer = ExactlyOnceWriter(output, resume=resume, overwrite=overwrite).open()
    summary = Summary()
    summary.output, summary.errors_path = output, writer.errors_path
    summary.previous_errors = writer.previous_errors
    try:
        nlp = load_pipeline(nlp_or_model) if isinstance(nlp_or_model, (str, Path)) else nlp_or_model
        reader = RecordReader(sources, text_field=text_field, id_field=id_field, keep_fields=keep_fields)
        progress = _Progress(reader, quiet)

        def good_records() -> Iterator[Tuple[str, Tuple[int, Any, Any]]]:
            for rec in reader:
                summary.read += 1
                if writer.is_done(rec.seq):
                    summary.skipped += 1
                    continue
                if rec.error is not None:
                    summary.errors += 1
                    writer.add_error(rec)
                    continue
                yield rec.text, (rec.seq, rec.id, rec.extra)

        t0 = time.perf_counter()
        pending = 0
        try:
            for doc, (seq, rid, extra) in nlp.pipe(
                good_records(), as_tuples=True, batch_size=batch_size, n_process=n_process
            ):
                writer.add_output(seq, prediction_payload(rid, doc.cats, extra))
                summary.classified += 1
                pending += 1
                if pending >= batch_size:
                    writer.commit()
                    summary.seconds = time.perf_counter() - t0
                    progress.update(pending)
                    pending = 0
                    if on_commit is not None:
                        on_commit(summary)
            writer.commit()
            progress.update(pending)
        except KeyboardInterrupt:
            # Whatever is committed is whole lines; the rest is redone on --resume.
            summary.interrupted = True
        finally:
            summary.seconds = time.perf_counter() - t0
            progress.close()
    finally:
        writer.close(commit=not summary.interrupted)
    return summary
