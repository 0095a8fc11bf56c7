"""`spacy_lstm.LSTMGenerator.v2` (and v1): the language model behind `lstm_generator`.

A thinc `Model` that owns the unit table (built at `initialize`) and a LanguageModelShim
around keras.networks.build_language_model. Training and generation go through the shim; the
window length (`seq_length`) belongs to the component, which passes it to the functions here
that cut text into windows.
"""
import weakref
from functools import partial
from typing import Iterable, List, Optional

import numpy
from spacy.tokens import Doc
from spacy.util import registry
from thinc.api import Model
from thinc.types import Floats2d

from ..errors import NotInitializedError
from ..keras import fork
from ..keras.precision import DTYPE_POLICIES, resolve_dtype_policy
from ..model_attrs import UNK_ID, ArchitectureSettings, TokenTable, check_settings, get_shim
from ..textcat.featurize import attr_id
from ..validate import check_choice
from .generation import LEVELS, UnitIndex, build_unit_table, cut_windows, doc_units
from .spelling import SpellingModel
from .streams import CHAR_COUNTS_KEY


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
    dtype_policy: str = "float32",
) -> Model[List[Doc], Floats2d]:
    """Embedding -> LSTM x depth -> softmax over the unit vocabulary, at every step.

    level: "char" (a unit is a character) or "token" (a unit is a token's text plus its
        trailing whitespace, from the pipeline's tokenizer): see generation.py.
    max_vocab / min_freq: the unit table built at initialize (incl. padding and unknown).
    dropout: after every LSTM layer, during training only.
    batch_size: windows per batch when scoring docs (perplexity).
    dtype_policy: "float32", "mixed_bfloat16" or "auto" (bfloat16 on a CPU that has it):
        keras/precision.py.

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
    dtype_policy: str = "float32",
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
    check_choice("dtype_policy", cfg["dtype_policy"], DTYPE_POLICIES)
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
        dtype_policy=resolve_dtype_policy(cfg["dtype_policy"]),
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
    """Build the unit table from X (all training docs; at level "char", the character counts
    of the whole corpus when a reader attached them, as PlainTextStreams.v1 does, since with
    max_epochs = -1 spaCy shows initialize only the first 100 docs) and the network with
    random weights."""
    cfg = model.attrs["cfg"]
    check_training_text(X or [], cfg["level"], 1, cfg["attr"])
    unit_lists = [model_units(model, doc) for doc in X]
    corpus_counts = [doc.user_data[CHAR_COUNTS_KEY] for doc in X if CHAR_COUNTS_KEY in doc.user_data]
    if cfg["level"] == "char" and corpus_counts:
        unit_lists = [[c for c, n in corpus_counts[0].items() for _ in range(n)]]
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


def grow_unit_table(model: Model, units: Iterable[str]) -> List[str]:
    """Add the units not yet in the table (up to max_vocab, in sorted order) and return them.
    Their embedding rows and output columns start random (output bias: the lowest of the
    known units'); the known units' weights, and the optimizer's state for them, are kept."""
    cfg = model.attrs["cfg"]
    table = model.attrs["unit_table"]
    new = sorted(set(units) - set(table.tokens[2:]))[: max(cfg["max_vocab"] - len(table), 0)]
    if not new:
        return []
    shim = get_shim(model)
    weights, optimizer_state = shim.get_weights(), shim.get_optimizer_state()
    rng = numpy.random.default_rng(len(table))
    for path, array in weights.items():
        if path.endswith("embedding/embeddings"):
            extra = rng.uniform(-0.05, 0.05, (len(new), array.shape[1]))
            weights[path] = numpy.concatenate([array, extra.astype(array.dtype)])
        elif path.endswith("logits/kernel"):
            extra = rng.normal(0, array.std(), (array.shape[0], len(new)))
            weights[path] = numpy.concatenate([array, extra.astype(array.dtype)], axis=1)
        elif path.endswith("logits/bias"):
            weights[path] = numpy.concatenate([array, numpy.full(len(new), array[2:].min(), array.dtype)])
    model.attrs["unit_table"] = TokenTable(list(table.tokens) + new)
    model.set_dim("nV", len(table) + len(new), force=True)
    shim.rebuild(partial(_build_network, model), weights)
    shim.set_optimizer_state(optimizer_state)
    return new


def score_docs(model: Model, docs: List[Doc], seq_length: int) -> numpy.ndarray:
    """Per doc: (NLL in nats with carried state, units scored, characters scored, unknown
    units scored, NLL in nats window by window), a [n_docs, 5] array. Every unit after a doc's
    first is scored once. The first NLL reads each doc as one stream, the LSTM state carried
    from window to window as in generation; the last scores each window of seq_length units
    from a zero state (as the windows of windowed training are seen). An unknown unit also
    costs its spelling (spelling.py)."""
    if not generator_is_initialized(model):
        raise NotInitializedError(
            "The lstm_generator model has not been initialized: train it with `spacy train`, "
            "call nlp.initialize(get_examples) before use, or load a trained pipeline."
        )
    index = unit_index(model)
    stats = numpy.zeros((len(docs), 5), dtype="float64")
    spelling = model.attrs["spelling"]
    streams = []
    for i, doc in enumerate(docs):
        units = model_units(model, doc)
        ids = index.encode(units)
        unknown = numpy.flatnonzero(ids[1:] == UNK_ID) + 1
        spelled = sum(spelling.nll(units[j]) for j in unknown)
        stats[i, [0, 4]] = spelled
        stats[i, 1] = max(len(units) - 1, 0)
        stats[i, 2] = sum(len(u) for u in units[1:])
        stats[i, 3] = len(unknown)
        streams.append(ids)
    shim = get_shim(model)
    bs = model.attrs["cfg"]["batch_size"]
    stats[:, 4] += windowed_nll(shim, streams, seq_length, bs)
    stats[:, 0] += stream_nll(shim, streams, seq_length, bs) if fork.tensorflow_usable() else stats[:, 4] - stats[:, 0]
    return stats


def windowed_nll(shim, streams: List[numpy.ndarray], seq_length: int, batch_size: int) -> numpy.ndarray:
    """Per id sequence: the summed NLL (nats) of its units after the first, in windows of
    seq_length each scored from a zero state."""
    total = numpy.zeros(len(streams))
    cut = [cut_windows(ids, seq_length) for ids in streams]
    owner = numpy.concatenate([numpy.full(len(c[0]), i) for i, c in enumerate(cut)] + [numpy.zeros(0, int)])
    if len(owner):
        inputs, targets, weights = (numpy.concatenate([c[k] for c in cut]) for k in range(3))
        nll = numpy.concatenate([shim.nll(inputs[s : s + batch_size], targets[s : s + batch_size]) for s in range(0, len(inputs), batch_size)])
        numpy.add.at(total, owner, (nll * weights).sum(axis=1))
    return total


def stream_nll(shim, streams: List[numpy.ndarray], seq_length: int, batch_size: int) -> numpy.ndarray:
    """Per id sequence: the summed NLL (nats) of its units after the first, read as one stream
    with the LSTM state carried across windows (up to batch_size sequences side by side)."""
    total = numpy.zeros(len(streams))
    order = sorted(range(len(streams)), key=lambda i: len(streams[i]))
    for s in range(0, len(order), batch_size):
        group = order[s : s + batch_size]
        windows = stack_streams([streams[i] for i in group], seq_length)
        states = None
        for inputs, targets, weights in zip(*windows):
            nll, states = shim.stream_nll(inputs, targets, states)
            total[group] += (nll * weights).sum(axis=1)
    return total


def stack_streams(streams: List[numpy.ndarray], seq_length: int):
    """Id sequences side by side, window by window: (inputs, targets, weights), each
    [n_windows, len(streams), seq_length]; a sequence shorter than the longest is padded with
    weight-0 windows."""
    cut = [cut_windows(ids, seq_length) for ids in streams]
    n = max((len(c[0]) for c in cut), default=0)
    out = [numpy.zeros((n, len(streams), seq_length), dtype=d) for d in ("int32", "int32", "float32")]
    for row, c in enumerate(cut):
        for k in range(3):
            out[k][: len(c[k]), row] = c[k]
    return out


def _forward(model: Model, docs: List[Doc], is_train: bool):
    raise NotImplementedError(
        "lstm_generator's model has no forward pass of its own: the component scores docs with "
        "score_docs(model, docs, seq_length) and trains through its update()."
    )
