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
import errno
import heapq
import json
import os
import re
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

from ..errors import BatchError
from .inputs import Record
from .lock import OutputLock, lock_path_for
from .paths import manifest_difference

ERRORS_SUFFIX = ".errors.jsonl"
MANIFEST_SUFFIX = ".manifest.json"
DEFAULT_OUTPUT_NAME = "predictions.jsonl"
_SEQ_RE = re.compile(rb'^\{"seq":\s*(\d+)\s*,')


def resolve_output(output) -> Path:
    """A folder (existing, or spelled with a trailing slash) gets predictions.jsonl."""
    spelled = str(output)
    if Path(spelled).is_dir() or spelled.endswith(("/", os.sep)):
        return Path(spelled) / DEFAULT_OUTPUT_NAME
    return Path(spelled)


def errors_path_for(output: Path) -> Path:
    """``<output>.errors.jsonl`` next to the output (predictions.jsonl.errors.jsonl)."""
    return output.with_name(output.name + ERRORS_SUFFIX)


def manifest_path_for(output: Path) -> Path:
    return output.with_name(output.name + MANIFEST_SUFFIX)


def written_paths(output: Path) -> List[Path]:
    """Every file a run writes for ``output``."""
    return [output, errors_path_for(output), manifest_path_for(output), lock_path_for(output)]


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

    Lines are buffered per batch; ``commit()`` is the only place data reaches disk, with
    unbuffered writes of whole lines. A write that fails (disk full, Ctrl-C in the middle)
    is cut back to the last whole line and never retried: the files stay resumable.
    ``open()`` takes the output lock, and checks (``--resume``) or writes the input manifest.
    """

    def __init__(self, output: Path, resume: bool = False, overwrite: bool = False,
                 manifest: Optional[Dict[str, Any]] = None):
        self.output = Path(output)
        self.errors_path = errors_path_for(self.output)
        self.manifest_path = manifest_path_for(self.output)
        self.resume = resume
        self.overwrite = overwrite
        self.manifest = manifest
        self._out_buf: List[str] = []
        self._err_buf: List[str] = []
        self._out_fd: Optional[int] = None
        self._err_fd: Optional[int] = None
        self._failed = False
        self._lock = OutputLock(self.output)
        self.done: Optional[_DoneSet] = None
        self.previous_errors = 0

    def open(self) -> "ExactlyOnceWriter":
        self._lock.acquire()
        try:
            return self._open()
        except BaseException:
            self._lock.release()
            raise

    def _open(self) -> "ExactlyOnceWriter":
        existing = [p for p in (self.output, self.errors_path) if p.exists() and p.stat().st_size > 0]
        if existing and not self.resume and not self.overwrite:
            raise BatchError(
                f"Output '{existing[0]}' already exists and is not empty. Use --resume to "
                "continue an interrupted run, or --overwrite to start from scratch."
            )
        if self.resume and not self.overwrite and existing:
            self._check_manifest()
            for p in (self.output, self.errors_path):
                truncate_partial_line(p)
            self.previous_errors = _count_lines(self.errors_path)
            self.done = _DoneSet(iter_committed_seqs(self.output), iter_committed_seqs(self.errors_path))
            self._out_fd = _open_append(self.output)
            if self.errors_path.exists():
                self._err_fd = _open_append(self.errors_path)
        else:
            self._write_manifest()
            self._out_fd = _open_append(self.output, truncate=True)
            if self.errors_path.exists():
                self.errors_path.unlink()
        return self

    def _check_manifest(self) -> None:
        if self.manifest is None:
            return
        try:
            old = json.loads(self.manifest_path.read_text(encoding="utf8"))
        except (OSError, ValueError):
            raise BatchError(
                f"Cannot --resume: '{self.manifest_path}' (the list of the first run's inputs) "
                "is missing or unreadable, so the inputs cannot be checked. Start again with --overwrite."
            ) from None
        diff = manifest_difference(old, self.manifest)
        if diff:
            raise BatchError(
                f"Cannot --resume '{self.output}': the inputs are not those of the first run: "
                f"{diff}. Resume with the same inputs and options, or start again with --overwrite."
            )

    def _write_manifest(self) -> None:
        if self.manifest is None:
            return
        tmp = self.manifest_path.with_name(self.manifest_path.name + ".tmp")
        try:
            tmp.write_text(json.dumps(self.manifest, indent=1), encoding="utf8")
            os.replace(tmp, self.manifest_path)
        except OSError as e:
            raise BatchError(f"Cannot write '{self.manifest_path}': {e}") from e

    def is_done(self, seq: int) -> bool:
        if self.done is None:
            return False
        if seq in self.done:
            return True
        if self.done.exhausted():
            self.done = None
        return False

    def done_ranges(self) -> List[List[int]]:
        """The committed positions as sorted ``[first, last]`` ranges (for the Ray engine);
        consumes the resume state."""
        ranges: List[List[int]] = []
        if self.done is None:
            return ranges
        merged = heapq.merge(iter_committed_seqs(self.output), iter_committed_seqs(self.errors_path))
        for seq in merged:
            if ranges and seq <= ranges[-1][1] + 1:
                ranges[-1][1] = max(ranges[-1][1], seq)
            else:
                ranges.append([seq, seq])
        self.done = None
        return ranges

    @staticmethod
    def line(seq: int, members: str) -> str:
        """One output line: ``members`` (the JSON object's members, without braces) after "seq"."""
        return '{"seq":%d,%s}\n' % (seq, members) if members else '{"seq":%d}\n' % seq

    def add_output(self, seq: int, members: str) -> None:
        self._out_buf.append(self.line(seq, members))

    def add_error(self, record: Record) -> None:
        self._err_buf.append(self.line(record.seq, self.error_members(record)))

    def add_raw(self, seq: int, members: str, is_error: bool) -> None:
        (self._err_buf if is_error else self._out_buf).append(self.line(seq, members))

    @staticmethod
    def error_members(record: Record, reason: Optional[str] = None) -> str:
        """The members of an error line; ASCII-escaped, so any location or snippet is writable."""
        payload: Dict[str, Any] = {"id": record.id if record.meta is not None and record.id is not None
                                   else record.location,
                                   "location": record.location, "source": record.source,
                                   "line": record.line, "reason": reason or record.error}
        if record.raw is not None:
            payload["raw"] = record.raw
        try:
            return json.dumps(payload, allow_nan=False)[1:-1]
        except ValueError:
            payload["id"] = record.location
            return json.dumps(payload, allow_nan=False)[1:-1]

    def commit(self) -> None:
        if self._failed:
            raise BatchError("A write to the output failed earlier; rerun with --resume.")
        if self._err_buf:
            if self._err_fd is None:
                self._err_fd = _open_append(self.errors_path)
            self._write(self._err_fd, self.errors_path, self._err_buf)
        if self._out_buf:
            self._write(self._out_fd, self.output, self._out_buf)

    def _write(self, fd: int, path: Path, buf: List[str]) -> None:
        data = memoryview("".join(buf).encode("utf8"))
        good = os.lseek(fd, 0, os.SEEK_END)
        try:
            while data:
                data = data[os.write(fd, data):]
        except BaseException as e:
            # never leave part of a line: cut back to the last whole line, and write no more
            self._failed = True
            try:
                os.ftruncate(fd, good)
            except OSError:
                pass
            if isinstance(e, OSError):
                raise BatchError(_write_failure(path, e)) from None
            raise
        buf.clear()

    def close(self, commit: bool = True) -> None:
        try:
            if commit and not self._failed:
                self.commit()
        finally:
            for fd in (self._out_fd, self._err_fd):
                if fd is not None:
                    os.close(fd)
            self._out_fd = self._err_fd = None
            self._lock.release()


def _open_append(path: Path, truncate: bool = False) -> int:
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | (os.O_TRUNC if truncate else 0)
    try:
        return os.open(path, flags, 0o644)
    except OSError as e:
        raise BatchError(f"Cannot write '{path}': {e.strerror}") from e


def _write_failure(path: Path, e: OSError) -> str:
    what = "No space left on device" if e.errno in (errno.ENOSPC, errno.EDQUOT) else e.strerror
    return (f"{what} while writing '{path}'. Everything written so far is whole lines; "
            "free space (or fix the problem) and rerun the same command with --resume.")


