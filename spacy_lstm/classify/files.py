"""How `spacy lstm-classify` reads an input file's bytes: gzipped or not, whole or as a byte
range of lines (a block of a large file, for the Ray engine), and the errors that make a whole
file unreadable. inputs.py turns the lines into records.
"""
import csv
import gzip
import io
import sys
import zlib
from pathlib import Path
from typing import Iterator, Optional, Tuple

from .paths import Source


class OpenedFile:
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


STREAM_ERRORS = (EOFError, OSError, zlib.error, gzip.BadGzipFile)


class BadFile(Exception):
    """A whole file cannot be read as its format (e.g. a CSV without the text column): it
    becomes one error record and the run goes on with the next file."""


def read_lines(fh, start: int = 0, end: Optional[int] = None, first_line: int = 1) -> Iterator[Tuple[int, bytes]]:
    """(line number, line) of the lines that start in bytes ``[start, end)`` of ``fh``."""
    if start:
        fh.seek(start)
    if end is None:
        yield from enumerate(fh, start=first_line)
        return
    pos = start
    for lineno, line in enumerate(fh, start=first_line):
        if pos >= end:
            return
        pos += len(line)
        yield lineno, line


def splittable(source: Source) -> bool:
    """Records are single lines of a plain (not gzipped) file: it can be read in byte ranges."""
    return source.kind in ("jsonl", "txt") and not source.path.name.lower().endswith(".gz")


_CSV_LIMIT_RAISED = False


def raise_csv_field_limit() -> None:
    """Python's csv refuses fields over 131,072 characters; allow what the machine allows."""
    global _CSV_LIMIT_RAISED
    limit = sys.maxsize
    while not _CSV_LIMIT_RAISED:
        try:
            csv.field_size_limit(limit)
            _CSV_LIMIT_RAISED = True
        except OverflowError:
            limit //= 2


def file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
