"""Explanations: integrated gradients + exact n-gram shares (textcat/explain.py,
keras/attribution.py), the HTML renderer (render.py, checked in headless Chromium) and
`spacy lstm-explain`."""
import json
import random
import shutil
import subprocess

import numpy
import pytest

from conftest import make_review

TINY = {"embedding_dim": 8, "lstm_width": 8, "max_vocab": 200}


def _nlp(factory="lstm_textcat", model=None, examples=30, labels=("POS", "NEG"), seed=0):
    """A pipeline initialized on fabricated reviews, with a random LSTM output layer, so that
    both paths carry weight (v2 starts its LSTM output at zero)."""
    import spacy
    from spacy.training import Example

    from spacy_lstm.model_attrs import get_shim

    rng = random.Random(seed)
    nlp = spacy.blank("en")
    pipe = nlp.add_pipe(factory, config={"model": {**TINY, **(model or {})}})
    egs = []
    for i in range(examples):
        positive = i % 2 == 0
        cats = {labels[0]: float(positive), labels[1]: float(not positive)}
        egs.append(Example.from_dict(nlp.make_doc(make_review(rng, positive)), {"cats": cats}))
    nlp.initialize(lambda: egs)
    shim = get_shim(pipe.model)
    weights = shim.get_weights()
    for path, array in weights.items():
        if path.endswith("logits/kernel"):
            weights[path] = numpy.random.default_rng(seed).normal(0, 1.0, array.shape).astype("float32")
    shim.set_weights(weights)
    return nlp, pipe


@pytest.mark.parametrize(
    "factory,model",
    [
        ("lstm_textcat", {}),
        ("lstm_textcat_multilabel", {}),
        ("lstm_textcat", {"@architectures": "spacy_lstm.LSTMTextCat.v1", "pooling": "attention"}),
        ("lstm_textcat", {"bow_ngram_size": 0, "pooling": "last", "lstm_depth": 2, "max_length": 6}),
    ],
)
def test_completeness_on_random_models(factory, model):
    nlp, pipe = _nlp(factory, model)
    rng = random.Random(1)
    docs = [nlp.make_doc(make_review(rng, i % 2 == 0, n_words=3 + i)) for i in range(12)] + [nlp.make_doc("")]
    explanations = pipe.explain(docs)
    scores = pipe.predict(docs)
    for doc, exp, row in zip(docs, explanations, scores):
        assert doc._.lstm_explanation is exp
        assert exp.score == pytest.approx(float(row[list(pipe.labels).index(exp.label)]), abs=1e-5)
        if factory == "lstm_textcat":
            assert exp.label == pipe.labels[int(row.argmax())]
        delta = exp.margin - exp.baseline
        assert len(exp.weights) == len(doc)
        if len(doc):  # completeness within the 5% tolerance
            assert abs(exp.weights.sum() - delta) <= 0.05 * max(abs(delta), 0.01) + 1e-6
            assert exp.completeness_error <= 0.05
        assert numpy.allclose(exp.weights, exp.lstm_weights + exp.ngram_weights)
    # explaining another label works and tells a label the component lacks
    assert {e.label for e in pipe.explain(docs[:3], "NEG")} == {"NEG"}
    with pytest.raises(ValueError, match="labels are"):
        pipe.explain(docs[:1], "MISSING")


def test_tokens_past_max_length_get_only_their_ngram_part():
    nlp, pipe = _nlp(model={"max_length": 4, "truncation": "head"})
    doc = nlp.make_doc("great awful boring superb the movie was a waste of time and fun")
    exp = pipe.explain([doc])[0]
    assert exp.read_by_lstm.tolist() == [True] * 4 + [False] * (len(doc) - 4)
    assert numpy.all(exp.lstm_weights[4:] == 0) and numpy.any(exp.ngram_weights[4:] != 0)


@pytest.mark.parametrize(
    "architecture,chars",
    [("spacy_lstm.LSTMTextCat.v1", {}), ("spacy_lstm.LSTMTextCat.v2", {"bow_char_ngrams": 0}),
     ("spacy_lstm.LSTMTextCat.v2", {"bow_char_ngrams": 4, "bow_char_max_length": 7})],
)
def test_ngram_contributions_sum_to_the_ngram_logits(architecture, chars):
    from spacy_lstm.textcat.explain import ngram_contributions
    from spacy_lstm.textcat.featurize import doc_hashes
    from spacy_lstm.textcat.model import textcat_features

    settings = {"@architectures": architecture, "bow_ngram_size": 3, "bow_max_length": 9, "bow_length": 64, **chars}
    nlp, pipe = _nlp(model=settings)
    if architecture.endswith("v1"):  # v1 learns its n-gram weights: give them values
        from spacy_lstm.model_attrs import get_shim

        weights = get_shim(pipe.model).get_weights()
        key = next(p for p in weights if p.endswith("bow_weights/embeddings"))
        weights[key] = numpy.random.default_rng(0).normal(0, 1, weights[key].shape).astype("float32")
        get_shim(pipe.model).set_weights(weights)
    from spacy_lstm.keras.attribution import attributor_for
    from spacy_lstm.model_attrs import get_shim

    table = attributor_for(get_shim(pipe.model).network, exclusive=True).ngram_table()
    cfg = pipe.model.attrs["cfg"]
    # repeated n-grams, hash collisions (64 buckets), and a doc longer than bow_max_length
    docs = [nlp.make_doc(t) for t in ("great great great film", "a b c d e f g h i j k l m n", "x", "")]
    ngram_ids = textcat_features(pipe.model, docs)[1]
    # the fitted weights, and weights in every bucket (the folds may leave a range unused)
    dense = numpy.random.default_rng(1).normal(0, 1, table.shape)
    for weights in (table, dense):
        for doc, hashes, ids in zip(docs, doc_hashes(docs, cfg["attr"]), ngram_ids):
            parts = ngram_contributions(hashes, weights, cfg, len(pipe.labels), nlp.vocab.strings)
            assert parts.shape == (len(doc), len(pipe.labels))
            assert numpy.allclose(parts.sum(axis=0), weights[ids].sum(axis=0), atol=1e-5)
    # head_tail truncation to 9 tokens: the first 5 and the last 4 are read
    unread = numpy.all(ngram_contributions(doc_hashes(docs[1:2], cfg["attr"])[0], dense, cfg, 2, nlp.vocab.strings) == 0, axis=1)
    assert unread.tolist() == [False] * 5 + [True] * 5 + [False] * 4
    if chars.get("bow_char_ngrams"):  # character n-grams only: from the 7 tokens they are read from
        from spacy_lstm.textcat.ngram_model import char_range

        start, end = char_range(64, 3)
        only_chars = numpy.zeros_like(dense)
        only_chars[start:end] = dense[start:end]
        parts = ngram_contributions(doc_hashes(docs[1:2], cfg["attr"])[0], only_chars, cfg, 2, nlp.vocab.strings)
        assert numpy.any(parts != 0, axis=1).tolist() == [True] * 4 + [False] * 7 + [True] * 3
        assert numpy.allclose(parts.sum(axis=0), only_chars[ngram_ids[1]].sum(axis=0), atol=1e-5)


def test_the_token_that_decides_the_label_gets_the_top_attribution():
    """A pure LSTM (no n-gram path) learns that 'zap' means POS: IG alone must find it."""
    import spacy
    from spacy.training import Example

    rng = random.Random(0)
    filler = "the a movie film plot was it and this story cast is".split()
    nlp = spacy.blank("en")
    pipe = nlp.add_pipe("lstm_textcat", config={"model": {**TINY, "bow_ngram_size": 0, "dropout": 0.0}})
    egs = []
    for i in range(60):
        words = [rng.choice(filler) for _ in range(rng.randint(4, 9))]
        if i % 2 == 0:
            words.insert(rng.randrange(len(words) + 1), "zap")
        egs.append(Example.from_dict(nlp.make_doc(" ".join(words)), {"cats": {"POS": float(i % 2 == 0), "NEG": float(i % 2)}}))
    optimizer = nlp.initialize(lambda: egs)
    optimizer.learn_rate = 0.02
    for _ in range(40):
        nlp.update(egs, sgd=optimizer)
    docs = [nlp(t) for t in ("the movie zap was a film", "zap it is this story", "plot cast the zap and it")]
    for doc, exp in zip(docs, pipe.explain(docs)):
        assert exp.label == "POS" and exp.score > 0.9
        assert exp.top(1)[0][0].text == "zap"
        assert exp.ngram_weights.sum() == 0


def test_explain_setting_fills_the_extension_and_to_dict_is_json():
    nlp, pipe = _nlp()
    pipe.set_explanations = True
    doc = nlp("Great film, superb acting.")
    exp = doc._.lstm_explanation
    assert exp is not None and exp.label in pipe.labels
    data = json.loads(json.dumps(exp.to_dict()))
    assert data["tokens"] == [t.text for t in doc] and len(data["weights"]) == len(doc)
    assert [t.text for t, _ in exp.top(2)] == [doc[i].text for i in numpy.argsort(-exp.weights)[:2]]
    import spacy

    assert spacy.blank("en").add_pipe("lstm_textcat", config={"explain": True}).set_explanations


def test_html_escapes_the_document_text():
    from spacy_lstm import render_explanations

    nlp, pipe = _nlp()
    doc = nlp.make_doc('<script>alert("x")</script> & a great <b>film</b>')
    pipe.explain([doc])
    html = render_explanations([doc], jupyter=False)
    assert "<script" not in html and "<b>" not in html and "&lt;" in html and "&amp;" in html
    from html.parser import HTMLParser

    class Text(HTMLParser):  # what a browser shows: the document text, as text
        def __init__(self):
            super().__init__(convert_charrefs=True)
            self.in_text, self.tags, self.text = False, [], ""

        def handle_starttag(self, tag, attrs):
            self.tags.append(dict(attrs).get("class"))

        def handle_endtag(self, tag):
            self.tags.pop()

        def handle_data(self, data):
            if "lstm-explanation-text" in self.tags:
                self.text += data

    parser = Text()
    parser.feed(html)
    assert parser.text == doc.text
    assert html.count('class="lstm-token"') == len(doc)
    assert "title=\"+" in html or "title=\"-" in html  # the weight on hover
    with pytest.raises(ValueError, match="no explanation"):
        render_explanations([nlp.make_doc("unexplained")], jupyter=False)


def test_page_renders_in_headless_chromium(tmp_path):
    """The page in a real browser: tinted spans of both colours are there and the long
    document wraps inside the window (nothing is clipped at the right edge)."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium); .ci/run installs it")
    from PIL import Image

    from spacy_lstm import render_explanations

    nlp, pipe = _nlp()
    rng = random.Random(3)
    docs = [nlp.make_doc(make_review(rng, True)), nlp.make_doc(" ".join(make_review(rng, False, 20) for _ in range(8)))]
    pipe.explain(docs)
    page = tmp_path / "page.html"
    page.write_text(render_explanations(docs, page=True, jupyter=False), encoding="utf8")
    png = tmp_path / "page.png"
    subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", f"--screenshot={png}",
         "--window-size=700,900", page.as_uri()],
        check=True, capture_output=True, timeout=120,
    )
    pixels = numpy.asarray(Image.open(png).convert("RGB")).astype(int)
    r, g, b = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    blue = (b - r > 40) & (b > g)
    orange = (r - b > 40) & (r > g)
    assert blue.sum() > 200 and orange.sum() > 200, (blue.sum(), orange.sum())
    dark = pixels.sum(axis=-1) < 200  # text
    assert not dark[:, -12:].any(), "text runs into the right edge"
    rows = numpy.flatnonzero(dark.any(axis=1))
    assert rows.max() - rows.min() > 300, "the long document wraps onto many lines"


def test_lstm_explain_cli_round_trip(textcat_model_dir, tmp_path):
    from typer.testing import CliRunner

    from spacy_lstm.__main__ import app

    src = tmp_path / "in.jsonl"
    src.write_text('{"id": "a", "text": "great <script> film"}\n{"text": 3}\n{"id": "b", "text": "awful, dull"}\n{"id": "c", "text": "fun"}\n')
    runner = CliRunner()
    res = runner.invoke(app, ["explain", str(textcat_model_dir), str(src), str(tmp_path / "e.jsonl"), "--limit", "2"])
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in (tmp_path / "e.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == ["a", "b"]
    assert rows[0]["tokens"] == ["great", "<", "script", ">", "film"] and len(rows[0]["weights"]) == 5
    res = runner.invoke(app, ["explain", str(textcat_model_dir), str(src), str(tmp_path / "e.html")])
    assert res.exit_code == 0, res.output
    html = (tmp_path / "e.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and html.count('class="lstm-explanation"') == 3 and "<script>" not in html
    res = runner.invoke(app, ["explain", str(textcat_model_dir), str(src), str(tmp_path / "e.txt")])
    assert res.exit_code == 1 and ".html" in res.output
