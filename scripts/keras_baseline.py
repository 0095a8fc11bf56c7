"""The raw-Keras baseline of the accuracy benchmark: exactly the network an `lstm_textcat`
config builds, trained the keras.io way with `model.fit`.

"Exactly" means: the network comes from the same function with the same settings
(`spacy_lstm.textcat.architecture.network_settings` -> `keras.networks.build_text_classifier`),
fed by the component's own featuriser (same token table, truncation, n-gram hashing), so the
layer list and the parameter count are the same (tests check it). What differs is only how it
is trained: here every weight, the n-gram weights included, is learned jointly by
`model.fit` (Adam at the config's learning rate, batch 32, early stopping on dev accuracy
with the best epoch restored); lstm_textcat fits its n-gram path first and trains the LSTM on
top of it. The difference between the two rows is what that training adds.
"""
import time
from pathlib import Path
from typing import Dict, Optional

import numpy

from _common import accuracy, labels_of, macro_f


def load_model_settings(config_path: Path, overrides: Optional[Dict[str, object]] = None):
    """(architecture settings, learning rate) of the text classifier in a training config."""
    from spacy.util import load_config, registry

    config = load_config(config_path, overrides=dict(overrides or {}), interpolate=True)
    component = next(c for c in config["components"].values() if "model" in c)
    model = registry.resolve({"model": component["model"]})["model"]
    learn_rate = config["training"]["optimizer"]["learn_rate"]
    while isinstance(learn_rate, dict):  # a schedule: the rate it settles at (constant_then's inner schedule)
        learn_rate = learn_rate.get("schedule", learn_rate.get("initial_rate", learn_rate.get("rate", 0.001)))
    return model.attrs["cfg"], float(learn_rate)


def build_baseline_network(cfg: dict, vocab_size: int, n_labels: int):
    """The config's network with every weight trainable (n-gram weights learned jointly)."""
    from spacy_lstm.keras.networks import build_text_classifier
    from spacy_lstm.textcat.model import network_settings

    return build_text_classifier(**network_settings(cfg, vocab_size, n_labels, cfg["embedding_dim"], ngram_path="trained"))


def _padded(features):
    """The network input for a list of docs' features (network_inputs of the component)."""
    from spacy_lstm.textcat.featurize import network_inputs

    return network_inputs(features, range(len(features[0])))


def train_keras_baseline(
    config_path: Path,
    corpus: Path,
    *,
    overrides: Optional[Dict[str, object]] = None,
    seed: int = 0,
    max_epochs: int = 30,
    patience: int = 2,
    max_seconds: Optional[float] = None,
) -> dict:
    """Train and score the baseline on corpus/{train,dev,test}.spacy (exclusive classes)."""
    import spacy
    from spacy.tokens import DocBin

    from spacy_lstm.keras.backend import keras
    from spacy_lstm.textcat.featurize import build_token_table, doc_features

    cfg, learn_rate = load_model_settings(config_path, overrides)
    keras.utils.set_random_seed(seed)
    nlp = spacy.blank("en")

    def load(split):
        docs = list(DocBin().from_disk(corpus / f"{split}.spacy").get_docs(nlp.vocab))
        return docs, labels_of(docs)

    (train_docs, train_gold), (dev_docs, dev_gold), (test_docs, test_gold) = load("train"), load("dev"), load("test")
    labels = sorted(set(train_gold))
    as_ids = lambda gold: numpy.asarray([labels.index(g) for g in gold])  # noqa: E731

    start = time.perf_counter()
    table = build_token_table(train_docs, cfg["attr"], max_vocab=cfg["max_vocab"], min_freq=cfg["min_freq"])
    network = build_baseline_network(cfg, len(table), len(labels))
    network.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learn_rate, clipnorm=1.0),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    x_train = _padded(doc_features(train_docs, table, cfg))
    x_dev = _padded(doc_features(dev_docs, table, cfg))
    callbacks = [keras.callbacks.EarlyStopping(monitor="val_accuracy", mode="max", patience=patience, restore_best_weights=True)]
    if max_seconds:
        callbacks.append(_TimeBudget(max_seconds))
    history = network.fit(
        x_train, as_ids(train_gold), validation_data=(x_dev, as_ids(dev_gold)), epochs=max_epochs,
        batch_size=32, callbacks=callbacks, verbose=2,
    )
    train_seconds = time.perf_counter() - start

    def predict(docs):
        out = []
        for i in range(0, len(docs), 256):
            x = _padded(doc_features(docs[i : i + 256], table, cfg))
            out.extend(labels[k] for k in numpy.asarray(network.predict_on_batch(x)).argmax(-1))
        return out

    texts = [d.text for d in test_docs]
    predict([nlp.make_doc(t) for t in texts[:64]])  # warm up: graph tracing is not prediction
    start = time.perf_counter()
    predicted = predict(list(nlp.tokenizer.pipe(texts)))
    seconds = time.perf_counter() - start
    epochs = len(history.history["val_accuracy"])
    return {
        "train_seconds": train_seconds,
        "accuracy": accuracy(predicted, test_gold),
        "macro_f": macro_f(predicted, test_gold),
        "docs_per_second": len(texts) / seconds,
        "n_test": len(texts),
        "detail": f"{epochs} epochs, best {int(numpy.argmax(history.history['val_accuracy'])) + 1}",
        "n_params": int(network.count_params()),
    }


class _TimeBudget:
    """A Keras callback that ends training after `seconds` (checked after every batch)."""

    def __new__(cls, seconds: float):
        from spacy_lstm.keras.backend import keras

        class TimeBudget(keras.callbacks.Callback):
            def on_train_begin(self, logs=None):
                self.start = time.perf_counter()

            def on_train_batch_end(self, batch, logs=None):
                if time.perf_counter() - self.start > seconds:
                    self.model.stop_training = True

        return TimeBudget()
