"""The exactly-once writer of `spacy lstm-classify`.

:class:`ExactlyOnceWriter` appends whole JSONL lines to ``<output>`` and
``<output>.errors.jsonl`` and flushes once per batch. Both files start every line with
``{"seq":N,`` and are append-only in increasing ``seq``. On ``--resume`` a trailing partial
line (from a crash in the middle of a write) is truncated, and the set of committed positions
is read back *as a stream* from both files and merged with the input stream: a record is
skipped iff its ``seq`` is already in one of the two files. That holds even when the crash
happened between the flush of the error file and the flush of the output file, which a single
"max committed position" cannot express, and it needs no memory beyond two file cursors.
"""
import json
import os
import re
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import srsly

from ..errors import BatchError
from .inputs import Record

ERRORS_SUFFIX = ".errors.jsonl"
DEFAULT_OUTPUT_NAME = "predictions.jsonl"
_SEQ_RE = re.compile(rb'^\{"seq":\s*(\d+)\s*,')


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
        self.previous_errors = 0

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
                truncate_partial_line(p)
            self.previous_errors = _count_lines(self.errors_path)
            if self.previous_errors or _count_lines(self.output):
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
    def _line(seq: int, payload_json: str) -> str:
        """One output line: the payload (a serialized JSON object) with "seq" put first."""
        return '{"seq":%d,%s\n' % (seq, payload_json[1:]) if len(payload_json) > 2 else '{"seq":%d}\n' % seq

    def add_output(self, seq: int, payload: Dict[str, Any]) -> None:
        self._out_buf.append(self._line(seq, srsly.json_dumps(payload)))

    def add_error(self, record: Record) -> None:
        self._err_buf.append(self._line(record.seq, srsly.json_dumps(self.error_payload(record))))

    def add_raw(self, seq: int, payload_json: str, is_error: bool) -> None:
        """Add a line whose payload (a JSON object without ``seq``) is already serialized."""
        (self._err_buf if is_error else self._out_buf).append(self._line(seq, payload_json))

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

