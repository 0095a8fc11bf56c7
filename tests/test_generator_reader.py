import gzip
import json
import random
import re

import pytest
import spacy
from spacy.training import Example

import spacy_lstm.generator.reader as readers_mod
from spacy_lstm.generator.reader import PlainTextCorpus, chunk_text, create_plain_text_reader


def iter_texts(path, jsonl_field="text"):
    """The raw texts the reader chunks, in reading order: each plain-text file whole, each
    JSONL record's field; raises like the reader for a missing path or a bad record."""
    for loc in readers_mod._list_files(path):
        if readers_mod._is_jsonl(loc):
            yield from readers_mod._iter_jsonl_texts(loc, jsonl_field)
        else:
            yield "".join(readers_mod._read_blocks(loc))


def _make_text(n_paragraphs=40, seed=0):
    rng = random.Random(seed)
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]
    paras = []
    for _ in range(n_paragraphs):
        lines = []
        for _ in range(rng.randint(1, 6)):
            lines.append(" ".join(rng.choice(words) for _ in range(rng.randint(1, 15))))
        paras.append("\n".join(lines))
    return "\n\n".join(paras) + "\n"


@pytest.fixture
def nlp():
    return spacy.blank("en")


def _texts(examples):
    return [eg.reference.text for eg in examples]


def _check_chunks(chunks, text, chunk_size):
    assert chunks, "no chunks"
    # Exact reconstruction (no whitespace run in these texts exceeds chunk_size).
    assert "".join(chunks) == text
    for i, chunk in enumerate(chunks):
        assert len(chunk.rstrip()) <= chunk_size
        assert not chunk.isspace()
        if i > 0:
            assert not chunk[0].isspace()  # the cut whitespace went to the left


def test_registered_name_resolves():
    func = spacy.registry.readers.get("spacy_lstm.PlainTextCorpus.v1")
    assert func is create_plain_text_reader


def test_resolve_from_config(tmp_path, nlp):
    (tmp_path / "a.txt").write_text("hello world\n", encoding="utf8")
    cfg = {
        "corpus": {
            "@readers": "spacy_lstm.PlainTextCorpus.v1",
            "path": str(tmp_path / "a.txt"),
            "chunk_size": 100,
        }
    }
    corpus = spacy.registry.resolve(cfg)["corpus"]
    assert isinstance(corpus, PlainTextCorpus)
    assert _texts(corpus(nlp)) == ["hello world\n"]


@pytest.mark.parametrize("chunk_size", [20, 57, 200, 2000, 100_000])
def test_single_file(tmp_path, nlp, chunk_size):
    text = _make_text()
    path = tmp_path / "corpus.txt"
    path.write_text(text, encoding="utf8")
    examples = list(create_plain_text_reader(path, chunk_size=chunk_size)(nlp))
    for eg in examples:
        assert isinstance(eg, Example)
        assert eg.predicted is eg.reference
        assert eg.reference.vocab is nlp.vocab
        assert len(eg.reference) > 0
    chunks = _texts(examples)
    _check_chunks(chunks, text, chunk_size)
    if chunk_size < len(text):
        assert len(chunks) > 1
        # chunks are "about" chunk_size: all but the last use at least half
        assert all(len(c) >= chunk_size // 2 for c in chunks[:-1])


def test_cuts_prefer_newlines(tmp_path):
    text = ("word " * 30 + "\n") * 20  # 151-char lines
    chunks = chunk_text(text, 400)
    assert "".join(chunks) == text
    assert all(c.endswith("\n") for c in chunks)
    assert all(len(c) == 302 for c in chunks[:-1])  # two lines fit in 400


def test_cuts_at_whitespace_else_hard():
    text = "abc " * 100
    chunks = chunk_text(text, 30)
    assert "".join(chunks) == text
    assert all(c.endswith(" ") and not c.startswith(" ") for c in chunks)
    long_word = "x" * 95
    chunks = chunk_text(long_word, 30)
    assert chunks == ["x" * 30, "x" * 30, "x" * 30, "x" * 5]


def test_whitespace_only_chunks_dropped():
    # a whitespace run longer than chunk_size: the only case (besides
    # whitespace-only texts) where "".join(chunks) != text
    text = "a" * 10 + " " * 50 + "b" * 5
    chunks = chunk_text(text, 10)
    assert all(not c.isspace() for c in chunks)
    assert re.sub(r"\s", "", "".join(chunks)) == re.sub(r"\s", "", text)
    assert chunk_text(" \n\t ", 10) == []


@pytest.mark.parametrize("seed", range(200))
def test_streaming_is_block_independent(seed):
    rng = random.Random(seed)
    alphabet = ["a", "b", "c", " ", "\n", "  ", "\n\n", "xyz" * 5, "\t"]
    text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 400)))
    chunk_size = rng.randint(1, 40)
    whole = chunk_text(text, chunk_size)
    cuts = sorted(rng.sample(range(len(text) + 1), min(len(text) + 1, 8)))
    pieces = [text[i:j] for i, j in zip([0] + cuts, cuts + [len(text)])]
    assert list(readers_mod._chunk_pieces(pieces, chunk_size)) == whole
    for chunk in whole:
        assert len(chunk.rstrip()) <= chunk_size and not chunk.isspace()
    if not re.search(r"\s{%d,}" % (chunk_size + 1), text) and text.strip():
        assert "".join(whole) == text
        assert all(not c[0].isspace() for c in whole[1:])


def test_leading_whitespace_kept_in_first_chunk():
    text = "\n\n  \t" + "word " * 10
    chunks = chunk_text(text, 12)
    assert "".join(chunks) == text
    assert chunks[0].startswith("\n\n  \tword")


def test_big_file_small_blocks(tmp_path, nlp, monkeypatch):
    monkeypatch.setattr(readers_mod, "_BLOCK_CHARS", 97)
    text = _make_text(200, seed=3)
    path = tmp_path / "big.txt"
    path.write_text(text, encoding="utf8")
    chunks = _texts(create_plain_text_reader(path, chunk_size=300)(nlp))
    _check_chunks(chunks, text, 300)
    assert chunks == chunk_text(text, 300)


def test_crlf_normalised(tmp_path, nlp):
    path = tmp_path / "crlf.txt"
    path.write_bytes(b"one line\r\ntwo line\r\n")
    assert _texts(create_plain_text_reader(path)(nlp)) == ["one line\ntwo line\n"]


def test_folder_recursive_sorted(tmp_path, nlp):
    root = tmp_path / "corpus"
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / ".hidden").mkdir()
    (root / "b.txt").write_text("bee text\n", encoding="utf8")
    (root / "a.txt").write_text("ay text\n", encoding="utf8")
    (root / "sub" / "c.txt").write_text("sea text\n", encoding="utf8")
    (root / "sub" / "deeper" / "d.jsonl").write_text(
        json.dumps({"text": "dee one"}) + "\n" + json.dumps({"text": "dee two"}) + "\n",
        encoding="utf8",
    )
    with gzip.open(root / "e.txt.gz", "wt", encoding="utf8") as f:
        f.write("ee text\n")
    (root / "notes.md").write_text("ignored\n", encoding="utf8")
    (root / ".hidden" / "x.txt").write_text("ignored\n", encoding="utf8")
    (root / ".y.txt").write_text("ignored\n", encoding="utf8")
    (root / "empty.txt").write_text("   \n\n", encoding="utf8")
    got = _texts(create_plain_text_reader(root)(nlp))
    assert got == [
        "ay text\n",
        "bee text\n",
        "ee text\n",
        "sea text\n",
        "dee one",
        "dee two",
    ]
    assert list(iter_texts(root)) == [
        "ay text\n",
        "bee text\n",
        "ee text\n",
        "   \n\n",
        "sea text\n",
        "dee one",
        "dee two",
    ]


def test_jsonl(tmp_path, nlp):
    texts = [_make_text(3, seed=i) for i in range(5)] + ["", "  "]
    path = tmp_path / "data.jsonl"
    with path.open("w", encoding="utf8") as f:
        for i, t in enumerate(texts):
            f.write(json.dumps({"id": i, "body": t}) + "\n")
        f.write("\n")  # blank lines are skipped
    reader = create_plain_text_reader(path, jsonl_field="body", chunk_size=60)
    chunks = _texts(reader(nlp))
    # a chunk never spans two records
    expected = [c for t in texts for c in chunk_text(t, 60)]
    assert chunks == expected
    # whitespace-only records yield nothing; the rest is reproduced exactly
    assert "".join(chunks) == "".join(t for t in texts if t.strip())
    assert list(iter_texts(path, jsonl_field="body")) == texts


def test_gz_txt_and_jsonl(tmp_path, nlp):
    text = _make_text(10, seed=5)
    with gzip.open(tmp_path / "c.txt.gz", "wt", encoding="utf8") as f:
        f.write(text)
    reader = create_plain_text_reader(tmp_path / "c.txt.gz", chunk_size=100)
    chunks = _texts(reader(nlp))
    _check_chunks(chunks, text, 100)
    with gzip.open(tmp_path / "c.jsonl.gz", "wt", encoding="utf8") as f:
        f.write(json.dumps({"text": text}) + "\n")
    reader = create_plain_text_reader(tmp_path / "c.jsonl.gz", chunk_size=100)
    chunks = _texts(reader(nlp))
    _check_chunks(chunks, text, 100)
    assert list(iter_texts(tmp_path / "c.txt.gz")) == [text]


def test_limit(tmp_path, nlp):
    text = _make_text()
    path = tmp_path / "c.txt"
    path.write_text(text, encoding="utf8")
    all_chunks = _texts(create_plain_text_reader(path, chunk_size=50)(nlp))
    assert len(all_chunks) > 10
    limited = _texts(create_plain_text_reader(path, chunk_size=50, limit=7)(nlp))
    assert limited == all_chunks[:7]
    shuffled = _texts(
        create_plain_text_reader(path, chunk_size=50, limit=7, shuffle=True)(nlp)
    )
    assert sorted(shuffled) == sorted(all_chunks[:7])  # limit first, then shuffle


def test_shuffle_deterministic(tmp_path, nlp):
    text = _make_text()
    path = tmp_path / "c.txt"
    path.write_text(text, encoding="utf8")
    ordered = _texts(create_plain_text_reader(path, chunk_size=50)(nlp))
    r1 = create_plain_text_reader(path, chunk_size=50, shuffle=True, seed=1)
    r2 = create_plain_text_reader(path, chunk_size=50, shuffle=True, seed=1)
    r3 = create_plain_text_reader(path, chunk_size=50, shuffle=True, seed=2)
    e1 = [_texts(r1(nlp)) for _ in range(3)]
    e2 = [_texts(r2(nlp)) for _ in range(3)]
    assert e1 == e2  # same seed: same sequence of epoch orders
    assert e1[0] != e1[1] != e1[2]  # a new order every epoch
    assert e1[0] != ordered
    assert _texts(r3(nlp)) != e1[0]
    for epoch in e1:
        assert sorted(epoch) == sorted(ordered)


def test_error_missing_path(tmp_path):
    missing = tmp_path / "nope.txt"
    with pytest.raises(ValueError, match="does not exist") as exc:
        create_plain_text_reader(missing)
    assert str(missing) in str(exc.value) and "--paths.train" in str(exc.value)
    with pytest.raises(ValueError, match="path is None"):
        create_plain_text_reader(None)
    with pytest.raises(ValueError, match="does not exist"):
        list(iter_texts(missing))


def test_error_folder_without_files(tmp_path):
    (tmp_path / "readme.md").write_text("x", encoding="utf8")
    with pytest.raises(ValueError, match=r"contains no \.txt") as exc:
        create_plain_text_reader(tmp_path)
    assert str(tmp_path) in str(exc.value)


def test_error_empty_corpus(tmp_path, nlp):
    path = tmp_path / "empty.txt"
    path.write_text("\n  \n", encoding="utf8")
    reader = create_plain_text_reader(path)
    with pytest.raises(ValueError, match="contains no text") as exc:
        list(reader(nlp))
    assert str(path) in str(exc.value)
    folder = tmp_path / "f"
    folder.mkdir()
    (folder / "a.txt").write_text("", encoding="utf8")
    (folder / "b.jsonl").write_text(json.dumps({"text": ""}) + "\n", encoding="utf8")
    with pytest.raises(ValueError, match="jsonl_field"):
        list(create_plain_text_reader(folder)(nlp))


def test_error_jsonl_field(tmp_path, nlp):
    path = tmp_path / "d.jsonl"
    path.write_text(
        json.dumps({"text": "fine"}) + "\n" + json.dumps({"content": "x"}) + "\n",
        encoding="utf8",
    )
    with pytest.raises(ValueError) as exc:
        list(create_plain_text_reader(path)(nlp))
    msg = str(exc.value)
    assert str(path) in msg and "Line 2" in msg and "'text'" in msg
    assert "content" in msg and "jsonl_field" in msg
    with pytest.raises(ValueError, match="Line 2"):
        list(iter_texts(path))
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ok"}\n{not json\n', encoding="utf8")
    with pytest.raises(ValueError, match="Invalid JSON on line 2"):
        list(create_plain_text_reader(bad)(nlp))
    wrong_type = tmp_path / "wt.jsonl"
    wrong_type.write_text(json.dumps({"text": 3}) + "\n", encoding="utf8")
    with pytest.raises(ValueError, match="must be a string"):
        list(create_plain_text_reader(wrong_type)(nlp))


@pytest.mark.parametrize(
    "kwargs,name",
    [
        (dict(chunk_size=0), "chunk_size"),
        (dict(chunk_size=1.5), "chunk_size"),
        (dict(limit=-1), "limit"),
        (dict(jsonl_field=""), "jsonl_field"),
        (dict(seed="x"), "seed"),
    ],
)
def test_error_bad_settings(tmp_path, kwargs, name):
    path = tmp_path / "a.txt"
    path.write_text("text\n", encoding="utf8")
    with pytest.raises(ValueError, match=name):
        create_plain_text_reader(path, **kwargs)
