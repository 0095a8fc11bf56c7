"""Registered model architectures: thinc `Model`s whose heavy part is a Keras 3 network.

`spacy_lstm.LSTMTextCat.v1` is a `Model[List[Doc], Floats2d]`: it featurises docs with the
token table it builds at `initialize`, groups them by length, and runs the Keras network
through the bridge. Registered names are versioned; published versions stay registered.
"""
from functools import partial
from typing import List, Optional

import numpy
from spacy.tokens import Doc
from spacy.util import registry
from thinc.api import Model
from thinc.model import deserialize_attr, serialize_attr
from thinc.types import Floats2d

from . import numpy_runtime
from .featurize import PAD_TOKEN, TRUNCATIONS, UNK_TOKEN, TokenTable, attr_id, docs_to_ids, length_buckets, pad
from .errors import NotInitializedError



@serialize_attr.register(TokenTable)
def _serialize_token_table(_, value: TokenTable, name: str, model: Model) -> bytes:
    import srsly

    return srsly.msgpack_dumps(value.tokens)


@deserialize_attr.register(TokenTable)
def _deserialize_token_table(_, value: bytes, name: str, model: Model) -> TokenTable:
    import srsly

    return TokenTable(srsly.msgpack_loads(value))


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
    batch_size: rows per length bucket at prediction time.
    """
    from .keras_bridge import KerasShim  # imports TensorFlow: only when a model is built
    from .networks import POOLINGS

    attr_id(attr)
    _check_choice("pooling", pooling, POOLINGS)
    _check_choice("truncation", truncation, TRUNCATIONS)
    for name, value, low in (
        ("max_vocab", max_vocab, 3),
        ("min_freq", min_freq, 1),
        ("max_length", max_length, 0),
        ("embedding_dim", embedding_dim, 1),
        ("lstm_width", lstm_width, 1),
        ("lstm_depth", lstm_depth, 1),
        ("attention_width", attention_width, 1),
        ("hidden_width", hidden_width, 0),
        ("batch_size", batch_size, 1),
    ):
        if not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}.")
    for name, value in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout)):
        if not 0.0 <= value < 1.0:
            raise ValueError(f"{name} must be in [0, 1), got {value!r}.")

    cfg = dict(
        exclusive_classes=exclusive_classes,
        attr=attr,
        max_vocab=max_vocab,
        min_freq=min_freq,
        max_length=max_length,
        truncation=truncation,
        embedding_dim=embedding_dim,
        static_vectors=static_vectors,
        freeze_vectors=freeze_vectors,
        lstm_width=lstm_width,
        lstm_depth=lstm_depth,
        bidirectional=bidirectional,
        dropout=dropout,
        recurrent_dropout=recurrent_dropout,
        pooling=pooling,
        attention_width=attention_width,
        hidden_width=hidden_width,
        batch_size=batch_size,
    )
    model: Model[List[Doc], Floats2d] = Model(
        "lstm_textcat",
        textcat_forward,
        init=textcat_init,
        dims={"nO": nO, "nV": None, "nE": None},
        attrs={
            "token_table": TokenTable([PAD_TOKEN, UNK_TOKEN]),
            "cfg": cfg,
            "resize_output": resize_textcat_output,
        },
    )
    model._shims.append(
        KerasShim(
            partial(_build_textcat_network, model),
            loss="softmax_crossentropy" if exclusive_classes else "sigmoid_crossentropy",
            activation="softmax" if exclusive_classes else "sigmoid",
            numpy_forward=partial(_numpy_textcat, cfg),
        )
    )
    return model


def _check_choice(name: str, value: str, choices) -> None:
    if value not in choices:
        raise ValueError(f"Unknown {name} '{value}'. Choose one of: {', '.join(choices)}.")


def _build_textcat_network(model: Model):
    from .networks import build_text_classifier

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
    )


def _numpy_textcat(cfg: dict, weights, token_ids):
    return numpy_runtime.text_classifier(weights, token_ids, cfg)


def get_shim(model: Model) -> "KerasShim":
    return model.shims[0]


def is_initialized(model: Model) -> bool:
    return model.has_dim("nV") is True and model.has_dim("nO") is True and get_shim(model).has_weights


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
    table = TokenTable.from_docs(X, cfg["attr"], max_vocab=cfg["max_vocab"], min_freq=cfg["min_freq"])
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
    shim.rebuild(partial(_build_textcat_network, model))
    network = shim.network
    if vectors is not None:
        embedding = network.get_layer("embedding")
        matrix = numpy.asarray(embedding.embeddings.numpy())
        for i, token in enumerate(table.tokens[2:], start=2):
            if token in vectors:
                matrix[i] = vectors[token]
        matrix[0] = 0.0
        embedding.embeddings.assign(matrix)


def textcat_forward(model: Model, docs: List[Doc], is_train: bool):
    if not is_initialized(model):
        raise NotInitializedError(
            "The lstm_textcat model has not been initialized: train it with `spacy train`, "
            "call nlp.initialize(get_examples) before use, or load a trained pipeline."
        )
    cfg = model.attrs["cfg"]
    shim = get_shim(model)
    seqs = docs_to_ids(docs, model.attrs["token_table"], cfg["attr"], cfg["max_length"], cfg["truncation"])
    scores = numpy.zeros((len(docs), model.get_dim("nO")), dtype="float32")
    backprops = []
    for idx in length_buckets([len(s) for s in seqs], cfg["batch_size"]):
        ids = pad([seqs[i] for i in idx])
        if is_train:
            scores[idx], bp = shim.begin_update(ids)
            backprops.append((idx, bp))
        else:
            scores[idx] = shim.predict(ids)

    def backprop(d_scores):
        d_scores = model.ops.to_numpy(d_scores)
        for idx, bp in backprops:
            bp(d_scores[idx])
        return []

    return model.ops.asarray2f(scores), backprop


def textcat_ids(model: Model, docs: List[Doc]) -> List[numpy.ndarray]:
    """The id sequences the network sees for these docs (after truncation)."""
    cfg = model.attrs["cfg"]
    return docs_to_ids(docs, model.attrs["token_table"], cfg["attr"], cfg["max_length"], cfg["truncation"])


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
    kernel, bias = weights["logits/kernel"], weights["logits/bias"]
    weights["logits/kernel"] = numpy.concatenate(
        [kernel, numpy.zeros((kernel.shape[0], new_nO - old_nO), dtype=kernel.dtype)], axis=1
    )
    weights["logits/bias"] = numpy.concatenate([bias, numpy.zeros(new_nO - old_nO, dtype=bias.dtype)])
    model.set_dim("nO", new_nO, force=True)
    shim.rebuild(partial(_build_textcat_network, model), weights)
    return model
