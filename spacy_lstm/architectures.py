"""Registered model architectures: thinc `Model`s whose heavy part is a Keras 3 network.

`spacy_lstm.LSTMTextCat.v1` is a `Model[List[Doc], Floats2d]`: it featurises docs with the
token table it builds at `initialize`, groups them by length, and runs the Keras network
through the bridge. Registered names are versioned; published versions stay registered.
"""
import weakref
from functools import partial
from typing import TYPE_CHECKING, List, Optional, Sequence, Tuple

import numpy
from spacy.tokens import Doc
from spacy.util import registry
from thinc.api import Model
from thinc.model import deserialize_attr, serialize_attr
from thinc.types import Floats2d

from . import numpy_runtime
from .featurize import (
    PAD_TOKEN,
    TRUNCATIONS,
    UNK_TOKEN,
    TokenTable,
    attr_id,
    doc_hashes,
    docs_to_ids,
    hashes_to_ids,
    hashes_to_ngrams,
    length_buckets,
    pad,
)
from .errors import NotInitializedError

if TYPE_CHECKING:
    from .keras_bridge import KerasShim


class ArchitectureSettings(dict):
    """An architecture's settings. They come from the config every time a pipeline is built,
    so they are not saved beside the weights: thinc would otherwise restore a stale copy over
    the config's values (and an older file would lack newer settings)."""


@serialize_attr.register(ArchitectureSettings)
def _serialize_settings(_, value: ArchitectureSettings, name: str, model: Model) -> bytes:
    return b""


@deserialize_attr.register(ArchitectureSettings)
def _deserialize_settings(current: ArchitectureSettings, value: bytes, name: str, model: Model):
    return current


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
        ("bow_ngram_size", bow_ngram_size, 0),
        ("bow_length", bow_length, 2),
        ("bow_max_length", bow_max_length, 0),
        ("batch_size", batch_size, 1),
    ):
        if not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}.")
    for name, value in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout)):
        if not 0.0 <= value < 1.0:
            raise ValueError(f"{name} must be in [0, 1), got {value!r}.")

    cfg = ArchitectureSettings(
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
        bow_ngram_size=bow_ngram_size,
        bow_length=bow_length,
        bow_max_length=bow_max_length,
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
        bow_length=cfg["bow_length"] if cfg["bow_ngram_size"] else 0,
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
        vocab = X[0].vocab
        for i, token in enumerate(table.tokens[2:], start=2):
            if vocab.has_vector(token):
                matrix[i] = vocab.get_vector(token)
        matrix[0] = 0.0
        embedding.embeddings.assign(matrix)


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


def textcat_ids(model: Model, docs: List[Doc]) -> List[numpy.ndarray]:
    """The token id sequences the network sees for these docs (after truncation)."""
    cfg = model.attrs["cfg"]
    return docs_to_ids(docs, model.attrs["token_table"], cfg["attr"], cfg["max_length"], cfg["truncation"])


def textcat_features(model: Model, docs: List[Doc]) -> Tuple[List[numpy.ndarray], ...]:
    """Per-doc features: (token ids,) or, with the bag-of-n-grams path, (token ids, n-gram ids).
    Each doc's attribute array is read once for both."""
    cfg = model.attrs["cfg"]
    hashes = doc_hashes(docs, cfg["attr"])
    ids = hashes_to_ids(hashes, model.attrs["token_table"], cfg["max_length"], cfg["truncation"])
    if not cfg["bow_ngram_size"]:
        return (ids,)
    ngrams = hashes_to_ngrams(
        hashes, cfg["bow_max_length"], cfg["truncation"], cfg["bow_ngram_size"], cfg["bow_length"]
    )
    return ids, ngrams


def network_inputs(features: Tuple[List[numpy.ndarray], ...], idx: Sequence[int]):
    """The padded network input for the docs at `idx`: one matrix, or a tuple of matrices."""
    padded = tuple(pad([feature[i] for i in idx]) for feature in features)
    return padded[0] if len(padded) == 1 else padded


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
    if "bow_weights/embeddings" in weights:
        bow = weights["bow_weights/embeddings"]
        weights["bow_weights/embeddings"] = numpy.concatenate(
            [bow, numpy.zeros((bow.shape[0], new_nO - old_nO), dtype=bow.dtype)], axis=1
        )
    model.set_dim("nO", new_nO, force=True)
    shim.rebuild(partial(_build_textcat_network, model), weights)
    return model


# --- spacy_lstm.LSTMGenerator.v1: the language model behind `lstm_generator` -----------------


@registry.architectures("spacy_lstm.LSTMGenerator.v1")
def build_lstm_generator(
    level: str = "char",
    max_vocab: int = 256,
    min_freq: int = 1,
    embedding_dim: int = 64,
    lstm_width: int = 256,
    lstm_depth: int = 1,
    dropout: float = 0.0,
    batch_size: int = 64,
) -> Model[List[Doc], Floats2d]:
    """Embedding -> LSTM x depth -> softmax over the unit vocabulary, at every step.

    level: "char" (a unit is a character) or "token" (a unit is a token's text plus its
        trailing whitespace, from the pipeline's tokenizer): see spacy_lstm/generation.py.
    max_vocab / min_freq: the unit table built at initialize (incl. padding and unknown).
    dropout: after every LSTM layer, during training only.
    batch_size: windows per batch when scoring docs (perplexity).

    As a thinc Model it maps docs to a [n_docs, 3] array (negative log-likelihood in nats,
    units scored, characters scored); training and generation go through the shim.
    """
    from .generation import LEVELS
    from .keras_bridge import LanguageModelShim  # imports TensorFlow: only when a model is built

    _check_choice("level", level, LEVELS)
    for name, value, low in (
        ("max_vocab", max_vocab, 3),
        ("min_freq", min_freq, 1),
        ("embedding_dim", embedding_dim, 1),
        ("lstm_width", lstm_width, 1),
        ("lstm_depth", lstm_depth, 1),
        ("batch_size", batch_size, 1),
    ):
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}.")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}.")
    cfg = ArchitectureSettings(
        level=level,
        max_vocab=max_vocab,
        min_freq=min_freq,
        embedding_dim=embedding_dim,
        lstm_width=lstm_width,
        lstm_depth=lstm_depth,
        dropout=dropout,
        batch_size=batch_size,
        seq_length=100,  # set by the component
    )
    model: Model[List[Doc], Floats2d] = Model(
        "lstm_generator",
        generator_forward,
        init=generator_init,
        dims={"nV": None},
        attrs={"unit_table": TokenTable([PAD_TOKEN, UNK_TOKEN]), "cfg": cfg},
    )
    model._shims.append(
        LanguageModelShim(
            partial(_build_generator_network, model),
            depth=lstm_depth,
            numpy_forward=partial(_numpy_generator, lstm_depth),
        )
    )
    return model


def _build_generator_network(model: Model):
    from .networks import build_language_model

    cfg = model.attrs["cfg"]
    return build_language_model(
        vocab_size=model.get_dim("nV"),
        embedding_dim=cfg["embedding_dim"],
        lstm_width=cfg["lstm_width"],
        lstm_depth=cfg["lstm_depth"],
        dropout=cfg["dropout"],
    )


def _numpy_generator(depth: int, weights, unit_ids):
    return numpy_runtime.language_model(weights, unit_ids, depth)


_UNIT_INDEXES: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def unit_index(model: Model):
    """The unit -> id index of the model's current unit table (cached per table)."""
    from .generation import UnitIndex

    table = model.attrs["unit_table"]
    index = _UNIT_INDEXES.get(table)
    if index is None:
        index = _UNIT_INDEXES[table] = UnitIndex(table)
    return index


def generator_is_initialized(model: Model) -> bool:
    return model.has_dim("nV") is True and get_shim(model).has_weights


def generator_init(model: Model, X: Optional[List[Doc]] = None, Y=None) -> None:
    """Build the unit table from X (all training docs) and the network with random weights.
    Errors name the problem: no docs, no text, or less text than one training window."""
    from .generation import build_unit_table, doc_units

    cfg = model.attrs["cfg"]
    if not X:
        raise ValueError(
            "lstm_generator needs training text to build its unit table, but the training "
            "corpus is empty: check [paths.train] / the reader's path, or pass examples to "
            "nlp.initialize(get_examples)."
        )
    table, total = build_unit_table(
        (doc_units(doc, cfg["level"]) for doc in X), max_vocab=cfg["max_vocab"], min_freq=cfg["min_freq"]
    )
    unit = "characters" if cfg["level"] == "char" else "tokens"
    if total == 0:
        raise ValueError("lstm_generator: the training corpus contains no text (every doc is empty).")
    if total < cfg["seq_length"] + 1:
        raise ValueError(
            f"lstm_generator: the training corpus is smaller than one training sequence: it has "
            f"{total} {unit}, and seq_length = {cfg['seq_length']} needs at least "
            f"{cfg['seq_length'] + 1}. Add text or lower seq_length."
        )
    if len(table) <= 2:
        raise ValueError(
            f"lstm_generator: no unit occurs at least min_freq = {cfg['min_freq']} times in "
            "the training text; lower min_freq."
        )
    model.attrs["unit_table"] = table
    model.set_dim("nV", len(table), force=True)
    shim = get_shim(model)
    shim.rebuild(partial(_build_generator_network, model))
    shim.network  # build now, with fresh weights


def generator_forward(model: Model, docs: List[Doc], is_train: bool):
    """Per doc: (NLL in nats, units scored, characters scored). Every unit after a doc's first
    is scored once, in windows of seq_length units (as in training)."""
    from .generation import cut_windows, doc_units

    if not generator_is_initialized(model):
        raise NotInitializedError(
            "The lstm_generator model has not been initialized: train it with `spacy train`, "
            "call nlp.initialize(get_examples) before use, or load a trained pipeline."
        )
    cfg = model.attrs["cfg"]
    index = unit_index(model)
    stats = numpy.zeros((len(docs), 3), dtype="float64")
    rows, owners, char_weights = [], [], []
    for i, doc in enumerate(docs):
        units = doc_units(doc, cfg["level"])
        inputs, targets, weights = cut_windows(index.encode(units), cfg["seq_length"])
        if len(inputs) == 0:
            continue
        lengths = numpy.zeros(weights.size, dtype="float32")
        n_scored = len(units) - 1
        lengths[:n_scored] = [len(u) for u in units[1:]]
        rows.append((inputs, targets, weights))
        owners.append(numpy.full(len(inputs), i))
        char_weights.append(lengths.reshape(weights.shape))
    if rows:
        inputs = numpy.concatenate([r[0] for r in rows])
        targets = numpy.concatenate([r[1] for r in rows])
        weights = numpy.concatenate([r[2] for r in rows])
        owner = numpy.concatenate(owners)
        chars = numpy.concatenate(char_weights)
        shim = get_shim(model)
        bs = cfg["batch_size"]
        nll = numpy.concatenate([shim.nll(inputs[s : s + bs], targets[s : s + bs]) for s in range(0, len(inputs), bs)])
        numpy.add.at(stats[:, 0], owner, (nll * weights).sum(axis=1))
        numpy.add.at(stats[:, 1], owner, weights.sum(axis=1))
        numpy.add.at(stats[:, 2], owner, chars.sum(axis=1))

    def backprop(d_stats):
        raise NotImplementedError("lstm_generator trains through its component's update(), not backprop.")

    return stats, backprop
