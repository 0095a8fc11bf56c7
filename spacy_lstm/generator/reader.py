"""Reading raw text for language-model training (the ``lstm_generator``).

``spacy_lstm.PlainTextCorpus.v1`` streams plain text and yields
``Example(doc, doc)`` objects (no annotation needed), each ``doc`` made with
``nlp.make_doc`` from a chunk of about ``chunk_size`` characters:

    [corpora.train]
    @readers = "spacy_lstm.PlainTextCorpus.v1"
    path = ${paths.train}
    chunk_size = 2000

Accepted inputs (``path``):

* a single file: ``*.jsonl`` / ``*.jsonl.gz`` are read as JSON lines (one text
  per record, in the ``jsonl_field`` field); any other file is plain UTF-8
  text (``*.gz`` is decompressed);
* a folder: every ``*.txt``, ``*.txt.gz``, ``*.jsonl`` and ``*.jsonl.gz`` file
  below it, recursively, in sorted order of their relative paths (hidden files
  and folders, whose name starts with ".", are skipped; other files ignored).

Chunking (what is preserved, exactly):

* A chunk never spans two texts: each plain-text file and each JSONL record is
  chunked on its own. Plain-text files are read in universal-newline mode, so
  ``\\r\\n`` and ``\\r`` become ``\\n``; JSONL texts are used verbatim.
* Cuts are made after a newline if there is one in the second half of the
  ``chunk_size`` window, else after other whitespace in the second half, else
  after the last newline in the window, else after its last whitespace, else
  (one "word" longer than the window) hard at ``chunk_size`` characters.
  Whitespace before the window's first non-whitespace character (a text's
  leading whitespace) is never a cut point.
* The whitespace run that follows a cut is kept at the end of the chunk before
  it (capped at ``chunk_size`` characters), so every chunk but a text's first
  starts with non-whitespace. Hence ``len(chunk.rstrip()) <= chunk_size``
  always, while ``len(chunk)`` can exceed ``chunk_size`` by that trailing
  whitespace; every chunk but a text's last has ``len(chunk) >= chunk_size // 2``
  unless a word longer than half the window forced an earlier cut.
* Nothing is removed, except that chunks consisting only of whitespace are not
  yielded: whitespace-only texts, and the parts of whitespace runs longer than
  ``chunk_size``. So for every text without a whitespace run longer than
  ``chunk_size``, ``"".join(chunks) == text`` exactly.

Errors stop the reader, with the file and line: a missing path, a folder without
such files, a JSONL line that is not an object with a string ``jsonl_field``, a
corpus without text. Training text is fixed, not skipped (``lstm-classify``, a
batch job that must not stop for one record, sends bad records to an error file).

Memory: files are read in blocks of at most 64K characters, never whole, so a
1 GB file is fine. Exception: ``shuffle=True`` holds all (at most ``limit``)
chunk strings of one epoch in memory to permute them.
"""
import gzip
import io
import json
import random
import re
from pathlib import Path
from typing import (
    TYPE_CHECKING,
    Iterable,
    Iterator,
    List,
    Optional,
    Tuple,
    Union,
)

from spacy.training import Example
from spacy.util import registry

from ..validate import check_integer

if TYPE_CHECKING:
    from spacy.language import Language  # noqa: F401

__all__ = ["create_plain_text_reader", "PlainTextCorpus", "chunk_text"]

_BLOCK_CHARS = 1 << 16
_TEXT_SUFFIXES = (".txt", ".txt.gz")
_JSONL_SUFFIXES = (".jsonl", ".jsonl.gz")
# The last whitespace character before endpos (pattern.search(s, pos, endpos)).
_LAST_WS = re.compile(r"\s(?=\S*\Z)")
_WS_RUN = re.compile(r"\s*")
_FIRST_NON_WS = re.compile(r"\S")

_PATH_FIX = (
    "Set the reader's `path` in the config ([corpora.train] / [corpora.dev]) or "
    "override it on the command line, e.g. --paths.train ./corpus.txt"
)


def _check_path(path) -> Path:
    if path is None:
        raise ValueError(f"No corpus path given (path is None). {_PATH_FIX}")
    path = Path(path)
    if not path.exists():
        raise ValueError(f"Corpus path does not exist: {path}. {_PATH_FIX}")
    return path


def _is_jsonl(loc: Path) -> bool:
    return loc.name.lower().endswith(_JSONL_SUFFIXES)


def _list_files(path: Union[str, Path]) -> List[Path]:
    """The files to read, in order. Raises ValueError for a missing path or a
    folder without .txt / .jsonl files."""
    path = _check_path(path)
    if not path.is_dir():
        return [path]
    found: List[Tuple[str, Path]] = []
    for loc in path.rglob("*"):
        rel = loc.relative_to(path)
        if any(part.startswith(".") for part in rel.parts):
            continue
        suffixes = _TEXT_SUFFIXES + _JSONL_SUFFIXES
        if loc.is_file() and loc.name.lower().endswith(suffixes):
            found.append((rel.as_posix(), loc))
    if not found:
        raise ValueError(
            f"Corpus folder {path} contains no .txt, .txt.gz, .jsonl or .jsonl.gz "
            f"files (searched recursively; hidden files are skipped). Put the "
            f"training text in such files, or point `path` at a single file."
        )
    return [loc for _, loc in sorted(found)]


def _open_text(loc: Path) -> io.TextIOBase:
    # newline=None: universal newlines (\r\n and \r -> \n), also across blocks.
    if loc.name.lower().endswith(".gz"):
        return gzip.open(loc, "rt", encoding="utf-8", newline=None)
    return open(loc, "r", encoding="utf-8", newline=None)


def _read_blocks(loc: Path) -> Iterator[str]:
    with _open_text(loc) as f:
        while True:
            block = f.read(_BLOCK_CHARS)
            if not block:
                return
            yield block


def _iter_jsonl_texts(loc: Path, field: str) -> Iterator[str]:
    with _open_text(loc) as f:
        for line_no, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError as e:
                raise ValueError(
                    f"Invalid JSON on line {line_no} of {loc}: {e}. Each line of a "
                    f".jsonl file must be one JSON object, e.g. "
                    f'{{"{field}": "some text"}}.'
                ) from None
            if not isinstance(record, dict) or field not in record:
                keys = sorted(record) if isinstance(record, dict) else None
                raise ValueError(
                    f"Line {line_no} of {loc} has no {field!r} field (found keys: "
                    f"{keys}). Add the field to every record, or set the reader's "
                    f"`jsonl_field` to the field that holds the text."
                )
            text = record[field]
            if not isinstance(text, str):
                raise ValueError(
                    f"Line {line_no} of {loc}: field {field!r} must be a string, got "
                    f"{type(text).__name__}. Set `jsonl_field` to the field that "
                    f"holds the text."
                )
            yield text


def _find_cut(buf: str, start: int, end: int, half: int) -> int:
    """A cut position in (start, end]: see the module docstring. Only
    whitespace after the window's first non-whitespace character counts, so a
    chunk is whitespace-only only if the whole window is whitespace."""
    m = _FIRST_NON_WS.search(buf, start, end)
    if m is None:
        return end
    first = m.start()
    nl = buf.rfind("\n", first, end)
    m = _LAST_WS.search(buf, first, end)
    ws = m.start() if m is not None else -1
    if nl >= 0 and nl + 1 >= start + half:
        return nl + 1
    if ws >= 0 and ws + 1 >= start + half:
        return ws + 1
    if nl >= 0:
        return nl + 1
    if ws >= 0:
        return ws + 1
    return end


def _chunk_pieces(pieces: Iterable[str], chunk_size: int) -> Iterator[str]:
    """Chunk one text, given as consecutive pieces (blocks), streaming."""
    half = max(1, chunk_size // 2)
    buf = ""
    pos = 0
    for piece in pieces:
        buf = buf[pos:] + piece
        pos = 0
        while len(buf) - pos > chunk_size:
            cut = _find_cut(buf, pos, pos + chunk_size, half)
            stop = _WS_RUN.match(buf, cut, cut + chunk_size).end()
            if stop == len(buf) and stop < cut + chunk_size:
                break  # the whitespace run may go on in the next piece
            chunk = buf[pos:stop]
            pos = stop
            if not chunk.isspace():
                yield chunk
    # End of the text: everything left is known.
    while pos < len(buf):
        if len(buf) - pos > chunk_size:
            cut = _find_cut(buf, pos, pos + chunk_size, half)
            stop = _WS_RUN.match(buf, cut, cut + chunk_size).end()
        else:
            stop = len(buf)
        chunk = buf[pos:stop]
        pos = stop
        if not chunk.isspace():
            yield chunk


def chunk_text(text: str, chunk_size: int) -> List[str]:
    """Chunk one text exactly as the reader does (handy for tests and tools)."""
    _check_chunk_size(chunk_size)
    return list(_chunk_pieces([text], chunk_size))


def _check_chunk_size(chunk_size) -> None:
    check_integer("chunk_size", chunk_size, 1, meaning="characters per chunk")


@registry.readers("spacy_lstm.PlainTextCorpus.v1")
class PlainTextCorpus:
    """Stream raw text as ``Example(doc, doc)`` chunks for language modelling, from a
    plain-text / JSONL file (optionally gzipped) or a folder of them.

    The predicted and reference doc are the same object: spaCy's
    ``Language.update`` and ``Language.evaluate`` copy the predicted doc before
    annotating it, so this is safe there and halves the memory.

    path (Path): the file or folder to read from.
    chunk_size (int): target chunk length in characters.
    jsonl_field (str): the field holding the text in JSONL records.
    limit (int): maximum number of chunks per epoch (the first ``limit`` in
        reading order, shuffled afterwards if ``shuffle``); 0 = no limit.
    shuffle (bool): shuffle the chunk order per call (epoch); the order of call
        ``i`` is fixed by ``(seed, i)``. Holds the epoch's chunks in memory.
    seed (int): shuffle seed.
    """

    def __init__(
        self,
        path: Optional[Union[str, Path]],
        *,
        chunk_size: int = 2000,
        jsonl_field: str = "text",
        limit: int = 0,
        shuffle: bool = False,
        seed: int = 0,
    ) -> None:
        _check_chunk_size(chunk_size)
        if not isinstance(jsonl_field, str) or not jsonl_field:
            raise ValueError(
                f"jsonl_field must be a non-empty string, got {jsonl_field!r}"
            )
        check_integer("limit", limit, 0, meaning="0 = no limit")
        check_integer("seed", seed)
        _list_files(path)  # fail early: missing path, folder without files
        self.path = Path(path)  # type: ignore[arg-type]
        self.chunk_size = chunk_size
        self.jsonl_field = jsonl_field
        self.limit = limit
        self.shuffle = bool(shuffle)
        self.seed = seed
        self.epoch = 0

    def iter_chunks(self) -> Iterator[str]:
        """Yield the chunk strings in reading order (no limit, no shuffle).
        Raises ValueError if the corpus holds no text at all."""
        n = 0
        for loc in _list_files(self.path):
            if _is_jsonl(loc):
                texts: Iterable[Iterable[str]] = (
                    [t] for t in _iter_jsonl_texts(loc, self.jsonl_field)
                )
            else:
                texts = [_read_blocks(loc)]
            for pieces in texts:
                for chunk in _chunk_pieces(pieces, self.chunk_size):
                    n += 1
                    yield chunk
        if n == 0:
            raise ValueError(
                f"The corpus at {self.path} contains no text (all files/records are "
                f"empty or whitespace). Check that `path` points at the right "
                f"data" + (
                    f" and that `jsonl_field` ({self.jsonl_field!r}) is the field "
                    f"holding the text."
                    if self.path.is_dir() or _is_jsonl(self.path)
                    else "."
                )
            )

    def _limited_chunks(self) -> Iterator[str]:
        for i, chunk in enumerate(self.iter_chunks()):
            if self.limit and i >= self.limit:
                return
            yield chunk

    def __call__(self, nlp: "Language") -> Iterator[Example]:
        """Yield one ``Example(doc, doc)`` per chunk, ``doc = nlp.make_doc(chunk)``.

        nlp (Language): the current nlp object.
        """
        epoch = self.epoch
        self.epoch += 1
        chunks: Iterable[str] = self._limited_chunks()
        if self.shuffle:
            chunks = list(chunks)
            random.Random(f"spacy_lstm:{self.seed}:{epoch}").shuffle(chunks)
        for chunk in chunks:
            doc = nlp.make_doc(chunk)
            yield Example(doc, doc)


# The registered reader is the class itself; this name is the one the first release used.
create_plain_text_reader = PlainTextCorpus
