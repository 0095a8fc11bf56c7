"""Shared fixtures.

``textcat_model_dir`` is a saved pipeline with a small ``lstm_textcat`` trained for a few
steps on a tiny set of fabricated reviews: what the batch CLI runs in production, small.
"""
import random

import pytest

POS_WORDS = "great wonderful superb loved brilliant moving excellent fun".split()
NEG_WORDS = "awful boring terrible hated dull waste bad worst".split()
FILLER = "the movie film plot acting was a and it this story cast".split()


def make_review(rng: random.Random, positive: bool, n_words: int = 12) -> str:
    sentiment = POS_WORDS if positive else NEG_WORDS
    words = [rng.choice(FILLER if rng.random() < 0.6 else sentiment) for _ in range(n_words)]
    return " ".join(words).capitalize() + "."


@pytest.fixture(scope="session")
def textcat_model_dir(tmp_path_factory):
    import spacy
    from spacy.training import Example

    rng = random.Random(0)
    nlp = spacy.blank("en")
    textcat = nlp.add_pipe("lstm_textcat", config={"model": {"embedding_dim": 16, "lstm_width": 16}})
    for label in ("POSITIVE", "NEGATIVE"):
        textcat.add_label(label)
    examples = []
    for i in range(40):
        positive = i % 2 == 0
        doc = nlp.make_doc(make_review(rng, positive))
        cats = {"POSITIVE": float(positive), "NEGATIVE": float(not positive)}
        examples.append(Example.from_dict(doc, {"cats": cats}))
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(10):
        rng.shuffle(examples)
        nlp.update(examples, sgd=optimizer)
    path = tmp_path_factory.mktemp("textcat_model") / "model"
    nlp.to_disk(path)
    return path
