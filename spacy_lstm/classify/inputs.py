"""Input of `spacy lstm-classify`: input files -> a stream of records.

Readers turn input files (JSONL, CSV/TSV, plain text with one document per line, folders of
``.txt`` files, any of them gzipped) into :class:`Record` objects. Every record, good or bad,
gets a stable sequential position ``seq`` (0-based, in deterministic input order) and a
location (``file:line`` or the file name). Bad records carry an ``error`` reason instead of a
text and go to the error file, and so does a bad file (one record naming the file): a batch
job never stops for bad input. Memory stays flat: files are read line by line, and a large
uncompressed JSONL/text file can be read as byte ranges that start at line starts
(:meth:`RecordReader.plan` and ``read_source(start=..., end=...)``, for the Ray engine).
"""
import csv
import io
import json
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

from .files import STREAM_ERRORS, BadFile, OpenedFile, file_size, raise_csv_field_limit, read_lines, splittable
from .paths import FORMATS, Source, expand_inputs, strip_gz  # noqa: F401 (re-exported)

RAW_SNIPPET_CHARS = 200


@dataclass(slots=True)
class Record:
    """One input record: its position ``seq`` in the input, its id, the text (None for a bad
    record), kept fields, where it came from, and ``error`` (None, or why it is bad) with a
    snippet of the ``raw`` input. ``meta`` (the id) and ``kept`` (the kept fields) are
    checked JSON members (``"id":...``, ``"field":...,...``), ready for the output line."""

    seq: int
    id: Any
    text: Optional[str]
    extra: Optional[Dict[str, Any]]
    source: str
    line: Optional[int]
    error: Optional[str] = None
    raw: Optional[str] = None
    meta: Optional[str] = None
    kept: str = ""

    @property
    def location(self) -> str:
        return f"{self.source}:{self.line}" if self.line is not None else self.source


@dataclass(slots=True)
class Block:
    """A part of one source that one task reads: bytes ``[start, end)`` (``end`` None: to the
    end), whose first line is ``first_line`` and whose first record is ``first_seq``."""

    source: int
    start: int
    end: Optional[int]
    first_line: int
    first_seq: int
    n_records: int


def json_member(key: str, value: Any) -> str:
    """``"key":value`` as strict JSON (no NaN/Infinity) that is valid UTF-8 (no lone
    surrogates); ValueError/TypeError/RecursionError/UnicodeEncodeError otherwise."""
    text = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    text.encode("utf8")
    return json.dumps(key, ensure_ascii=False) + ":" + text


UNWRITABLE = (ValueError, TypeError, RecursionError, UnicodeEncodeError)


def _snippet(data: Any) -> str:
    if isinstance(data, bytes):
        data = data[: RAW_SNIPPET_CHARS * 4].decode("utf8", errors="replace")
    data = str(data).rstrip("\r\n")
    data = data if len(data) <= RAW_SNIPPET_CHARS else data[:RAW_SNIPPET_CHARS] + "..."
    # lone surrogates (from JSON escapes or undecodable file names) -> readable escapes
    return data.encode("utf8", "backslashreplace").decode("utf8")


def _undecodable(e: UnicodeError) -> str:
    return f"undecodable bytes (not UTF-8): {e.reason} at byte {e.start}"


class RecordReader:
    """Iterate :class:`Record` objects from a list of :class:`Source`.

    ``progress`` is the number of input bytes consumed so far (compressed bytes
    for gzip) or, when every source is a document file, the number of files;
    ``total`` is the matching total.
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
            self.total = sum(file_size(s.path) for s in self.sources)
        self.progress = 0
        self._done_bytes = 0
        self._seq = start_seq

    # -- helpers -------------------------------------------------------------
    def _next_seq(self) -> int:
        seq = self._seq
        self._seq += 1
        return seq

    def _bad(self, source: Source, line: Optional[int], reason: str, raw: Any = None) -> Record:
        return Record(self._next_seq(), None, None, None, source.name, line, reason,
                      _snippet(raw) if raw is not None else None)

    def _good(self, source: Source, line: Optional[int], text: str, obj: Optional[Dict[str, Any]], raw: Any = None) -> Record:
        rid = None
        if obj is not None and self.id_field is not None:
            rid = obj.get(self.id_field)
        extra = None
        if self.keep_fields:
            extra = {k: (obj.get(k) if obj is not None else None) for k in self.keep_fields}
        field = self.id_field
        try:
            if rid is None:
                rid = f"{source.name}:{line}" if line is not None else source.name
                field = None
                parts = ['"id":' + json.dumps(rid)]  # a location: always writable (ASCII escapes)
            else:
                parts = [json_member("id", rid)]
            for field in extra or ():
                parts.append(json_member(field, extra[field]))
        except UNWRITABLE as e:
            what = f"field '{field}'" if field is not None else "the id"
            return self._bad(source, line, f"{what} cannot be written as JSON: {_why_unwritable(e)}",
                             raw if raw is not None else text)
        return Record(self._next_seq(), rid, text, extra, source.name, line,
                      meta=parts[0], kept=",".join(parts[1:]))

    def _check_text(self, source: Source, line: int, obj: Dict[str, Any], raw: Any) -> Record:
        if self.text_field not in obj:
            return self._bad(source, line, f"missing text field '{self.text_field}'", raw)
        text = obj[self.text_field]
        if not isinstance(text, str):
            return self._bad(
                source, line,
                f"text field '{self.text_field}' is not a string (got {type(text).__name__})", raw,
            )
        try:
            text.encode("utf8")
        except UnicodeEncodeError as e:
            return self._bad(source, line, f"text is not valid Unicode: lone surrogate "
                                           f"{text[e.start]!a} at character {e.start}", raw)
        return self._good(source, line, text, obj, raw)

    # -- formats -------------------------------------------------------------
    def _jsonl_record(self, source: Source, lineno: int, line: bytes) -> Record:
        try:
            decoded = line.decode("utf8")
        except UnicodeDecodeError as e:
            return self._bad(source, lineno, _undecodable(e), line)
        if lineno == 1:
            decoded = decoded.lstrip("\ufeff")
        try:
            obj = json.loads(decoded)
        except (ValueError, RecursionError) as e:
            return self._bad(source, lineno, f"invalid JSON: {str(e)[:RAW_SNIPPET_CHARS]}", decoded)
        if not isinstance(obj, dict):
            return self._bad(source, lineno, f"JSON value is not an object (got {type(obj).__name__})", decoded)
        return self._check_text(source, lineno, obj, decoded)

    def _txt_record(self, source: Source, lineno: int, line: bytes) -> Record:
        try:
            text = line.decode("utf8").rstrip("\r\n")
        except UnicodeDecodeError as e:
            return self._bad(source, lineno, _undecodable(e), line)
        if lineno == 1:
            text = text.lstrip("\ufeff")
        return self._good(source, lineno, text, None)

    def _readread_lines(self, source: Source, lines: Iterator[Tuple[int, bytes]]) -> Iterator[Record]:
        """One record per non-blank line (blank lines separate nothing and are not records)."""
        make = self._jsonl_record if source.kind == "jsonl" else self._txt_record
        for lineno, line in lines:
            if line.strip():
                yield make(source, lineno, line)

    def _read_csv(self, source: Source, opened: OpenedFile, delimiter: str) -> Iterator[Record]:
        raise_csv_field_limit()
        # newline="": quoted fields keep their line breaks, and \r, \n, \r\n all end a row.
        # surrogateescape: one bad byte spoils only its row.
        text = io.TextIOWrapper(opened.fh, encoding="utf8", errors="surrogateescape", newline="")
        reader = csv.reader(text, delimiter=delimiter)
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
                    raise BadFile(f"unreadable CSV header: {e}")
                yield self._bad(source, start, f"malformed CSV: {e}")
                continue
            start, last_line = last_line + 1, reader.line_num
            if not row:
                continue
            if header is None:
                header = [h.lstrip("\ufeff").strip() for h in row]
                if self.text_field not in header:
                    raise BadFile(f"no column named '{self.text_field}' (columns: "
                                  f"{_snippet(', '.join(header))}); set --text-field")
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
            yield self._good(source, start, obj[self.text_field], obj, delimiter.join(row))

    def _read_doc(self, source: Source, opened: OpenedFile) -> Iterator[Record]:
        data = opened.fh.read()
        try:
            text = data.decode("utf8").lstrip("\ufeff")
        except UnicodeDecodeError as e:
            yield self._bad(source, None, _undecodable(e), data)
            return
        yield self._good(source, None, text, None)

    # -- iteration -------------------------------------------------------------
    def __iter__(self) -> Iterator[Record]:
        for source in self.sources:
            yield from self.read_source(source)
            if self.by_files:
                self.progress += 1
            else:
                self._done_bytes += file_size(source.path)
                self.progress = self._done_bytes

    def read_source(
        self, source: Source, data: Optional[bytes] = None,
        start: int = 0, end: Optional[int] = None, first_line: int = 1,
    ) -> Iterator[Record]:
        """Records of one source; ``data`` is the file content if already read. ``start``,
        ``end`` and ``first_line`` read a block of a :func:`splittable` source."""
        try:
            opened = OpenedFile(source.path, data)
        except OSError as e:
            yield self._bad(source, None, f"cannot open file: {e}")
            return
        last_line = first_line - 1
        try:
            if source.kind in ("jsonl", "txt"):
                it = self._readread_lines(source, read_lines(opened.fh, start, end, first_line))
            elif source.kind in ("csv", "tsv"):
                it = self._read_csv(source, opened, "\t" if source.kind == "tsv" else ",")
            else:
                it = self._read_doc(source, opened)
            while True:
                try:
                    rec = next(it)
                except StopIteration:
                    break
                except BadFile as e:
                    yield self._bad(source, None, f"file skipped: {e}")
                    break
                except STREAM_ERRORS as e:
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

    def plan(self, block_bytes: int) -> Iterator[Block]:
        """Split the sources into blocks of about ``block_bytes`` (only :func:`splittable`
        sources are split) and count their records, streaming, without parsing lines."""
        seq = self._seq
        for i, source in enumerate(self.sources):
            if not splittable(source):
                self._seq = seq
                n = sum(1 for _ in self.read_source(source))
                yield Block(i, 0, None, 1, seq, n)
                seq += n
                continue
            try:
                fh = open(source.path, "rb")
            except OSError:
                yield Block(i, 0, None, 1, seq, 1)  # read_source makes it one error record
                seq += 1
                continue
            with fh:
                start, first_line, first_seq, n, pos = 0, 1, seq, 0, 0
                for lineno, line in read_lines(fh):
                    if pos - start >= block_bytes:
                        yield Block(i, start, pos, first_line, first_seq, n)
                        start, first_line, first_seq, n = pos, lineno, seq, 0
                    pos += len(line)
                    if line.strip():
                        n += 1
                        seq += 1
                yield Block(i, start, None, first_line, first_seq, n)
        self._seq = seq


def _why_unwritable(e: BaseException) -> str:
    if isinstance(e, UnicodeEncodeError):
        return "not valid Unicode (lone surrogate)"
    if isinstance(e, RecursionError):
        return "nested too deeply"
    return str(e)
