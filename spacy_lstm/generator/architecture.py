"""`spacy_lstm.LSTMGenerator.v2` (and v1): the language model behind `lstm_generator`.

A thinc `Model` that owns the unit table (built at `initialize`) and a LanguageModelShim
around keras.networks.build_language_model. Training and generation go through the shim; the
window length (`seq_length`) belongs to the component, which passes it to the functions here
that cut text into windows.
"""
import weakref
from functools import partial
from typing import List, Optional

import numpy
from spacy.tokens import Doc
from spacy.util import registry
from thinc.api import Model
from thinc.types import Floats2d

from ..errors import NotInitializedError
from ..model_attrs import UNK_ID, ArchitectureSettings, TokenTable, check_settings, get_shim
from ..textcat.featurize import attr_id
from ..validate import check_choice
from .generation import LEVELS, UnitIndex, build_unit_table, cut_windows, doc_units
from .spelling import SpellingModel


# The smallest value of each integer setting.
INTEGER_MINIMUMS = {"max_vocab": 3, "min_freq": 1, "embedding_dim": 1, "lstm_width": 1, "lstm_depth": 1, "batch_size": 1}


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
        trailing whitespace, from the pipeline's tokenizer): see generation.py.
    max_vocab / min_freq: the unit table built at initialize (incl. padding and unknown).
    dropout: after every LSTM layer, during training only.
    batch_size: windows per batch when scoring docs (perplexity).

    The component scores docs with `score_docs(model, docs, seq_length)`; training and
    generation go through the shim.
    """
    cfg = ArchitectureSettings(locals())  # the arguments as the config gave them (first line!)
    cfg["attr"] = None
    return _generator_model(cfg)


@registry.architectures("spacy_lstm.LSTMGenerator.v2")
def build_lstm_generator_v2(
    level: str = "char",
    attr: Optional[str] = None,
    max_vocab: int = 256,
    min_freq: int = 1,
    embedding_dim: int = 64,
    lstm_width: int = 256,
    lstm_depth: int = 1,
    dropout: float = 0.0,
    batch_size: int = 64,
) -> Model[List[Doc], Floats2d]:
    """v1 with `attr`: at level "token", a unit can be a token attribute (e.g. "LOWER")
    instead of the token's text with its whitespace. Such a model reads text the way
    lstm_textcat does (same attribute, same unit table), so it can initialise the classifier
    (`[initialize.components.lstm_textcat] language_model`); the text it writes is those
    units joined by spaces."""
    cfg = ArchitectureSettings(locals())  # the arguments as the config gave them (first line!)
    if attr is not None:
        if level != "token":
            raise ValueError(f"attr = {attr!r} needs level = \"token\" (got level = {level!r}): characters have no token attributes.")
        attr_id(attr)
    return _generator_model(cfg)


def _generator_model(cfg: ArchitectureSettings) -> Model[List[Doc], Floats2d]:
    from .lm_shim import LanguageModelShim  # imports TensorFlow: only when a model is built

    check_choice("level", cfg["level"], LEVELS)
    check_settings(cfg, INTEGER_MINIMUMS, ("dropout",))
    model: Model[List[Doc], Floats2d] = Model(
        "lstm_generator",
        _forward,
        init=generator_init,
        dims={"nV": None},
        attrs={"unit_table": TokenTable.empty(), "cfg": cfg, "spelling": SpellingModel.empty()},
    )
    model._shims.append(
        LanguageModelShim(partial(_build_network, model), numpy_forward=partial(_numpy_forward, cfg["lstm_depth"]))
    )
    return model


def model_units(model: Model, doc: Doc) -> List[str]:
    """A doc's units as this model reads them (generation.doc_units with its settings)."""
    cfg = model.attrs["cfg"]
    return doc_units(doc, cfg["level"], cfg["attr"])


def _build_network(model: Model):
    from ..keras.networks import build_language_model

    cfg = model.attrs["cfg"]
    return build_language_model(
        vocab_size=model.get_dim("nV"),
        embedding_dim=cfg["embedding_dim"],
        lstm_width=cfg["lstm_width"],
        lstm_depth=cfg["lstm_depth"],
        dropout=cfg["dropout"],
    )


def _numpy_forward(depth: int, weights, unit_ids):
    from ..keras.numpy_networks import language_model

    return language_model(weights, unit_ids, depth)


_UNIT_INDEXES: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def unit_index(model: Model) -> UnitIndex:
    """The unit -> id index of the model's current unit table (cached per table)."""
    table = model.attrs["unit_table"]
    index = _UNIT_INDEXES.get(table)
    if index is None:
        index = _UNIT_INDEXES[table] = UnitIndex(table)
    return index


def generator_is_initialized(model: Model) -> bool:
    return model.has_dim("nV") is True and get_shim(model).has_weights


def check_training_text(docs: List[Doc], level: str, seq_length: int, attr: Optional[str] = None) -> None:
    """Errors that name the problem: no docs, no text, or less text than one training window
    of `seq_length` units (plus the one unit it predicts)."""
    if not docs:
        raise ValueError(
            "lstm_generator needs training text to build its unit table, but the training "
            "corpus is empty: check [paths.train] / the reader's path, or pass examples to "
            "nlp.initialize(get_examples)."
        )
    total = sum(len(doc_units(doc, level, attr)) for doc in docs)
    unit = "characters" if level == "char" else "tokens"
    if total == 0:
        raise ValueError("lstm_generator: the training corpus contains no text (every doc is empty).")
    if total < seq_length + 1:
        raise ValueError(
            f"lstm_generator: the training corpus is smaller than one training sequence: it has "
            f"{total} {unit}, and seq_length = {seq_length} needs at least "
            f"{seq_length + 1}. Add text or lower seq_length."
        )


def generator_init(model: Model, X: Optional[List[Doc]] = None, Y=None) -> None:
    """Build the unit table from X (all training docs) and the network with random weights."""
    cfg = model.attrs["cfg"]
    check_training_text(X or [], cfg["level"], 1, cfg["attr"])
    unit_lists = [model_units(model, doc) for doc in X]
    table, _ = build_unit_table(unit_lists, max_vocab=cfg["max_vocab"], min_freq=cfg["min_freq"])
    model.attrs["spelling"] = SpellingModel.from_units(unit_lists)
    if len(table) <= 2:
        raise ValueError(
            f"lstm_generator: no unit occurs at least min_freq = {cfg['min_freq']} times in "
            "the training text; lower min_freq."
        )
    model.attrs["unit_table"] = table
    model.set_dim("nV", len(table), force=True)
    shim = get_shim(model)
    shim.rebuild(partial(_build_network, model))
    shim.build()


def score_docs(model: Model, docs: List[Doc], seq_length: int) -> numpy.ndarray:
    """Per doc: (NLL in nats, units scored, characters scored, unknown units scored), a
    [n_docs, 4] array. Every unit after a doc's first is scored once, in windows of seq_length
    units (as in training). An unknown unit also costs its spelling (spelling.py)."""
    if not generator_is_initialized(model):
        raise NotInitializedError(
            "The lstm_generator model has not been initialized: train it with `spacy train`, "
            "call nlp.initialize(get_examples) before use, or load a trained pipeline."
        )
    cfg = model.attrs["cfg"]
    index = unit_index(model)
    stats = numpy.zeros((len(docs), 4), dtype="float64")
    spelling = model.attrs["spelling"]
    rows, owners, char_weights = [], [], []
    for i, doc in enumerate(docs):
        units = model_units(model, doc)
        ids = index.encode(units)
        inputs, targets, weights = cut_windows(ids, seq_length)
        if len(inputs) == 0:
            continue
        unknown = numpy.flatnonzero(ids[1:] == UNK_ID) + 1
        stats[i, 0] += sum(spelling.nll(units[j]) for j in unknown)
        stats[i, 3] = len(unknown)
        lengths = numpy.zeros(weights.size, dtype="float32")
        lengths[: len(units) - 1] = [len(u) for u in units[1:]]
        rows.append((inputs, targets, weights))
        owners.append(numpy.full(len(inputs), i))
        char_weights.append(lengths.reshape(weights.shape))
    if rows:
        inputs, targets, weights = (numpy.concatenate([r[k] for r in rows]) for k in range(3))
        owner = numpy.concatenate(owners)
        chars = numpy.concatenate(char_weights)
        shim = get_shim(model)
        bs = cfg["batch_size"]
        nll = numpy.concatenate([shim.nll(inputs[s : s + bs], targets[s : s + bs]) for s in range(0, len(inputs), bs)])
        numpy.add.at(stats[:, 0], owner, (nll * weights).sum(axis=1))
        numpy.add.at(stats[:, 1], owner, weights.sum(axis=1))
        numpy.add.at(stats[:, 2], owner, chars.sum(axis=1))
    return stats


def _forward(model: Model, docs: List[Doc], is_train: bool):
    raise NotImplementedError(
        "lstm_generator's model has no forward pass of its own: the component scores docs with "
        "score_docs(model, docs, seq_length) and trains through its update()."
    )
