"""Which files `spacy lstm-classify` reads, and the checks that keep its output out of them.

An input argument is a path when it exists (so ``reviews[1].jsonl`` is a file name, not a
pattern) and a glob pattern otherwise. The output and the files written beside it must never
be one of the inputs, nor inside an input folder or matched by an input pattern: a rerun would
read its own output (growing without end) or truncate its input. ``--resume`` compares a
manifest of the inputs (path, size, a hash of the first block) with the first run's.
"""
import fnmatch
import glob
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Sequence

from ..errors import BatchError

FORMATS = ("auto", "jsonl", "csv", "tsv", "txt")
MANIFEST_HEAD_BYTES = 1 << 16


@dataclass(slots=True)
class Source:
    """One input file. ``kind`` is the record format; ``name`` is used in ids."""

    path: Path
    kind: str
    name: str


def strip_gz(name: str) -> str:
    return name[:-3] if name.lower().endswith(".gz") else name


def _kind_for(path: Path, fmt: str) -> str:
    if fmt != "auto":
        return fmt
    suffix = Path(strip_gz(path.name)).suffix.lower()
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


def _is_pattern(raw: str) -> bool:
    """A glob pattern: has magic characters and is not the name of an existing path."""
    return glob.has_magic(raw) and not os.path.lexists(raw)


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
    for raw in map(str, inputs):
        if _is_pattern(raw):
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


def _real(path: Path) -> Path:
    """The absolute path with every existing symlink resolved (the file need not exist)."""
    return Path(os.path.realpath(os.path.abspath(path)))


def _pattern_matches(pattern: str, path: Path) -> bool:
    """Would ``glob.glob(pattern, recursive=True)`` list ``path`` (were it there)?"""
    pat_parts = Path(os.path.abspath(pattern)).parts
    for candidate in {Path(os.path.abspath(path)), _real(path)}:
        if _match_parts(pat_parts, candidate.parts):
            return True
    return False


def _match_parts(pat: Sequence[str], parts: Sequence[str]) -> bool:
    if not pat:
        return not parts
    if pat[0] == "**":
        return any(_match_parts(pat[1:], parts[i:]) for i in range(len(parts) + 1))
    return bool(parts) and fnmatch.fnmatchcase(parts[0], pat[0]) and _match_parts(pat[1:], parts[1:])


def refuse_overlap(inputs: Sequence[str], sources: Sequence[Source], written: Sequence[Path]) -> None:
    """BatchError if a file this run writes is an input, inside an input folder, or matched by
    an input pattern (checked before anything is read or written)."""
    read = {_real(s.path) for s in sources}
    for out in written:
        real = _real(out)
        problem = None
        if real in read:
            problem = "is one of the inputs"
        for raw in map(str, inputs):
            if problem:
                break
            if _is_pattern(raw):
                if _pattern_matches(raw, out):
                    problem = f"matches the input pattern '{raw}'"
            elif os.path.isdir(raw) and _real(Path(raw)) in real.parents:
                problem = f"is inside the input folder '{raw}'"
        if problem:
            raise BatchError(
                f"The output file '{out}' {problem}: the run would read what it writes. "
                "Write the output somewhere outside the inputs."
            )


def input_manifest(sources: Sequence[Source], settings: Dict[str, Any]) -> Dict[str, Any]:
    """What ``--resume`` must find unchanged: each input's path, size and a hash of its first
    block, and the settings that decide which records there are."""
    files = []
    for s in sources:
        try:
            size = s.path.stat().st_size
            with open(s.path, "rb") as fh:
                head = hashlib.sha256(fh.read(MANIFEST_HEAD_BYTES)).hexdigest()
        except OSError:
            size, head = None, None
        files.append({"path": str(_real(s.path)), "kind": s.kind, "size": size, "head_sha256": head})
    return {"version": 1, "settings": settings, "inputs": files}


def manifest_difference(old: Dict[str, Any], new: Dict[str, Any]) -> str:
    """'' if the manifests agree, else a short description of the first difference."""
    if old.get("settings") != new.get("settings"):
        return f"the settings differ (first run: {json.dumps(old.get('settings'))})"
    old_files, new_files = old.get("inputs", []), new.get("inputs", [])
    for i, (a, b) in enumerate(zip(old_files, new_files)):
        if a["path"] != b["path"]:
            return f"input #{i + 1} was '{a['path']}' and is now '{b['path']}'"
        if a != b:
            return f"'{a['path']}' changed (size or content) since the first run"
    if len(old_files) != len(new_files):
        return f"the first run read {len(old_files)} file(s), this one would read {len(new_files)}"
    return ""
