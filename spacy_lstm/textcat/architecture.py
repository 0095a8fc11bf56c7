"""`spacy_lstm.LSTMTextCat.v1`: the model behind `lstm_textcat`, and the batcher helper
`spacy_lstm.truncated_length.v1` that measures documents as this model reads them.

The architecture is a `Model[List[Doc], Floats2d]`: it featurises docs with the token table
it builds at `initialize` (featurize.py), groups them by length, and runs the Keras network
(keras/networks.py) through the shim (keras/shim.py). Registered names are versioned;
published versions stay registered.
"""
from functools import partial
from typing import Callable, List, Optional

import numpy
from spacy.tokens import Doc
from spacy.util import registry
from thinc.api import Model
from thinc.types import Floats2d

from ..errors import NotInitializedError
from ..model_attrs import ArchitectureSettings, TokenTable, check_settings, get_shim
from ..validate import check_choice, check_integer
from .featurize import TRUNCATIONS, attr_id, build_token_table, doc_features, length_buckets, network_inputs


# The smallest value of each integer setting.
INTEGER_MINIMUMS = {
    "max_vocab": 3,
    "min_freq": 1,
    "max_length": 0,
    "embedding_dim": 1,
    "lstm_width": 1,
    "lstm_depth": 1,
    "attention_width": 1,
    "hidden_width": 0,
    "bow_ngram_size": 0,
    "bow_length": 2,
    "bow_max_length": 0,
    "batch_size": 1,
}


@registry.architectures("spacy_lstm.LSTMTextCat.v1")
def build_lstm_textcat(
    exclusive_classes: bool = True,
    attr: str = "LOWER",
    max_vocab: int = 20000,
    min_freq: int = 1,
    max_length: int = 400,
    truncation: str = "head_tail",
    embedding_dim: int = 128,
    static_vectors: bool = False,
    freeze_vectors: bool = False,
    lstm_width: int = 128,
    lstm_depth: int = 1,
    bidirectional: bool = True,
    dropout: float = 0.2,
    recurrent_dropout: float = 0.0,
    pooling: str = "max_mean",
    attention_width: int = 64,
    hidden_width: int = 0,
    bow_ngram_size: int = 2,
    bow_length: int = 262144,
    bow_max_length: int = 5000,
    batch_size: int = 256,
    nO: Optional[int] = None,
) -> Model[List[Doc], Floats2d]:
    """Embedding -> (Bi)LSTM x depth -> pooling -> Dense, as a thinc Model over Docs.

    attr: token attribute the table is built from (LOWER, NORM, ORTH, ...).
    max_vocab / min_freq: size of the token table built at initialize (incl. pad and unk).
    max_length: tokens kept per doc (0 = all); truncation: "head", "tail" or "head_tail".
    static_vectors: initialise the Embedding from nlp.vocab.vectors (its width wins over
        embedding_dim); freeze_vectors keeps them fixed during training.
    pooling: "last", "max", "mean", "max_mean" or "attention".
    bow_ngram_size: 0 = off; n > 0 adds a linear bag of 1..n-grams (hashed into bow_length
        buckets, as spaCy's TextCatBOW) whose per-label weights are summed into the logits.
        It is cheap, so it reads up to bow_max_length tokens (0 = all), more than max_length.
    batch_size: rows per length bucket at prediction time.
    """
    cfg = ArchitectureSettings(locals())  # the arguments as the config gave them (first line!)
    del cfg["nO"]  # a dimension of the model, not a setting
    from ..keras.networks import POOLINGS
    from ..keras.shim import KerasShim  # imports TensorFlow: only when a model is built

    attr_id(attr)
    check_choice("pooling", pooling, POOLINGS)
    check_choice("truncation", truncation, TRUNCATIONS)
    check_settings(cfg, INTEGER_MINIMUMS, ("dropout", "recurrent_dropout"))
    model: Model[List[Doc], Floats2d] = Model(
        "lstm_textcat",
        textcat_forward,
        init=textcat_init,
        dims={"nO": nO, "nV": None, "nE": None},
        attrs={"token_table": TokenTable.empty(), "cfg": cfg, "resize_output": resize_textcat_output},
    )
    model._shims.append(
        KerasShim(
            partial(_build_network, model),
            loss="softmax_crossentropy" if exclusive_classes else "sigmoid_crossentropy",
            activation="softmax" if exclusive_classes else "sigmoid",
            numpy_forward=partial(_numpy_forward, cfg),
        )
    )
    return model


def _build_network(model: Model):
    from ..keras.networks import build_text_classifier

    cfg = model.attrs["cfg"]
    return build_text_classifier(
        vocab_size=model.get_dim("nV"),
        n_labels=model.get_dim("nO"),
        embedding_dim=model.get_dim("nE"),
        lstm_width=cfg["lstm_width"],
        lstm_depth=cfg["lstm_depth"],
        bidirectional=cfg["bidirectional"],
        dropout=cfg["dropout"],
        recurrent_dropout=cfg["recurrent_dropout"],
        pooling=cfg["pooling"],
        attention_width=cfg["attention_width"],
        hidden_width=cfg["hidden_width"],
        trainable_embedding=not (cfg["static_vectors"] and cfg["freeze_vectors"]),
        bow_length=cfg["bow_length"] if cfg["bow_ngram_size"] else 0,
    )


def _numpy_forward(cfg: dict, weights, inputs):
    from ..keras.numpy_networks import text_classifier

    return text_classifier(weights, inputs, cfg)


def is_initialized(model: Model) -> bool:
    return model.has_dim("nV") is True and model.has_dim("nO") is True and get_shim(model).has_weights


def textcat_features(model: Model, docs: List[Doc]):
    """The model's per-doc features (featurize.doc_features with its table and settings)."""
    return doc_features(docs, model.attrs["token_table"], model.attrs["cfg"])


def textcat_init(model: Model, X: Optional[List[Doc]] = None, Y=None) -> None:
    """Build the token table from X (all training docs) and the network with random weights.

    With static_vectors, the Embedding rows of tokens in `nlp.vocab.vectors` start from those
    vectors (the way spaCy v2's Keras example did); the other rows start small and random.
    """
    cfg = model.attrs["cfg"]
    if X is None or len(X) == 0:
        raise ValueError(
            "lstm_textcat needs training docs to build its token table: call "
            "nlp.initialize(get_examples) with at least one example."
        )
    if Y is not None and not model.has_dim("nO"):
        model.set_dim("nO", Y.shape[1])
    if not model.has_dim("nO"):
        raise ValueError("lstm_textcat needs its labels before initialize (nO is unset).")
    table = build_token_table(X, cfg["attr"], max_vocab=cfg["max_vocab"], min_freq=cfg["min_freq"])
    model.attrs["token_table"] = table
    model.set_dim("nV", len(table), force=True)
    vectors = X[0].vocab.vectors if cfg["static_vectors"] else None
    if cfg["static_vectors"] and (vectors is None or vectors.shape[0] == 0 or vectors.shape[1] == 0):
        raise ValueError(
            "static_vectors = true, but the pipeline has no word vectors. Add them with "
            "`spacy init vectors` and [initialize.vectors], or set static_vectors = false."
        )
    model.set_dim("nE", vectors.shape[1] if vectors is not None else cfg["embedding_dim"], force=True)
    shim = get_shim(model)
    shim.rebuild(partial(_build_network, model))
    shim.build()
    if vectors is not None:
        shim.set_weights(_with_static_vectors(shim.get_weights(), table, X[0].vocab))


def _with_static_vectors(weights, table: TokenTable, vocab):
    """The fresh weights with the Embedding rows of tokens that have a vector set to it."""
    matrix = weights["embedding/embeddings"]
    for i, token in enumerate(table.tokens[2:], start=2):
        if vocab.has_vector(token):
            matrix[i] = vocab.get_vector(token)
    matrix[0] = 0.0
    return weights


def textcat_forward(model: Model, docs: List[Doc], is_train: bool):
    if not is_initialized(model):
        raise NotInitializedError(
            "The lstm_textcat model has not been initialized: train it with `spacy train`, "
            "call nlp.initialize(get_examples) before use, or load a trained pipeline."
        )
    shim = get_shim(model)
    features = textcat_features(model, docs)
    scores = numpy.zeros((len(docs), model.get_dim("nO")), dtype="float32")
    backprops = []
    for idx in length_buckets([len(s) for s in features[0]], model.attrs["cfg"]["batch_size"]):
        inputs = network_inputs(features, idx)
        if is_train:
            scores[idx], bp = shim.begin_update(inputs)
            backprops.append((idx, bp))
        else:
            scores[idx] = shim.predict(inputs)

    def backprop(d_scores):
        d_scores = model.ops.to_numpy(d_scores)
        for idx, bp in backprops:
            bp(d_scores[idx])
        return []

    return model.ops.asarray2f(scores), backprop


def resize_textcat_output(model: Model, new_nO: int) -> Model:
    """Add output labels, keeping what the network learned (new rows start at zero)."""
    if not model.has_dim("nO") or not get_shim(model).has_weights:
        model.set_dim("nO", new_nO, force=True)
        return model
    old_nO = model.get_dim("nO")
    if new_nO == old_nO:
        return model
    if new_nO < old_nO:
        raise ValueError(f"Cannot shrink lstm_textcat's output from {old_nO} to {new_nO} labels.")
    shim = get_shim(model)
    weights = shim.get_weights()
    for path in ("logits/kernel", "logits/bias", "bow_weights/embeddings"):
        if path in weights:  # the label axis is the last one
            old = weights[path]
            grown = numpy.zeros(old.shape[:-1] + (new_nO - old_nO,), dtype=old.dtype)
            weights[path] = numpy.concatenate([old, grown], axis=-1)
    model.set_dim("nO", new_nO, force=True)
    shim.rebuild(partial(_build_network, model), weights)
    return model


@registry.misc("spacy_lstm.truncated_length.v1")
def make_truncated_length(max_length: int) -> Callable[[object], int]:
    """`get_length` for `spacy.batch_by_padded.v1`: a document's length as the network sees
    it (at most `max_length` tokens; 0 = no limit), so that long reviews, which the LSTM reads
    truncated, do not shrink their batches to a handful of documents."""
    check_integer("max_length", max_length, 0, meaning="0 = no limit")

    def truncated_length(item) -> int:
        return min(len(item), max_length) if max_length else len(item)

    return truncated_length
