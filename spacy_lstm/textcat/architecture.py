"""`spacy_lstm.LSTMTextCat.v2` (and v1): the model behind `lstm_textcat`, and the batcher
helper `spacy_lstm.truncated_length.v1` that measures documents as this model reads them.

The architecture is a `Model[List[Doc], Floats2d]`: it featurises docs with the token table
it builds at `initialize` (featurize.py), groups them by length, and runs the Keras network
(keras/networks.py) through the shim (keras/shim.py).

v2 fits its n-gram path at `initialize` (ngram_model.py) and freezes it; the LSTM then learns
on top of the n-gram model's out-of-fold logits. v1 learns the n-gram weights jointly with the
LSTM. Registered names are versioned; published versions stay registered.
"""
from functools import partial
from typing import Callable, List, Optional

from spacy.tokens import Doc
from spacy.util import registry
from thinc.api import Model
from thinc.types import Floats2d

from ..model_attrs import ArchitectureSettings, TokenTable, TrainingState, check_settings
from ..validate import check_choice, check_integer, check_number, is_integer
from .featurize import TRUNCATIONS, attr_id
from .model import build_network, numpy_forward_of, resize_textcat_output, textcat_forward, textcat_init
from .ngram_model import C_VALUES, WEIGHTINGS, bucket_ranges
from .pretrained import is_encoder


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
    cfg["ngram_model"] = "trained"
    return _textcat_model(cfg, nO)


@registry.architectures("spacy_lstm.LSTMTextCat.v2")
def build_lstm_textcat_v2(
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
    dropout: float = 0.3,
    recurrent_dropout: float = 0.0,
    pooling: str = "max_mean",
    attention_width: int = 64,
    hidden_width: int = 0,
    bow_ngram_size: int = 2,
    bow_length: int = 262144,
    bow_max_length: int = 5000,
    bow_C: List[float] = list(C_VALUES),
    bow_weightings: List[str] = list(WEIGHTINGS),
    bow_folds: int = 3,
    bow_char_ngrams: int = 0,
    bow_char_max_length: int = 400,
    pretrained_lr_scale: float = 1.0,
    freeze_pretrained_steps: int = 0,
    batch_size: int = 256,
    nO: Optional[int] = None,
) -> Model[List[Doc], Floats2d]:
    """Like v1, but the n-gram path is fitted at `initialize` and frozen, and the LSTM learns
    on top of it (textcat/ngram_model.py says why). The embedding and LSTM can start from a
    language model (`[initialize.components.lstm_textcat] language_model`, pretrained.py).

    bow_ngram_size: the longest n-grams (0 = no n-gram path: a pure LSTM). Each order is
        hashed into its own range of the bow_length buckets, and a doc's n-grams count once.
    bow_C / bow_weightings: the candidates (inverse L2 strength; "nb" naive-Bayes weighted or
        "none") which, with the orders 1..bow_ngram_size, the held-out folds choose from.
    bow_folds: folds of the training docs for that choice and for the out-of-fold logits the
        LSTM trains on (0 or 1: no folds; the first candidate is fitted and the LSTM trains on
        top of the in-sample logits).
    bow_char_ngrams: 0 = off (as pipelines saved before it existed); N >= 2 adds the 2..N
        character n-grams of each token (" word ", char_ngrams.py) in a range of their own,
        from at most bow_char_max_length tokens per doc (0 = all).
    """
    cfg = ArchitectureSettings(locals())  # the arguments as the config gave them (first line!)
    del cfg["nO"]
    cfg["ngram_model"] = "fitted"
    check_integer("bow_folds", bow_folds, 0)
    check_integer("bow_char_max_length", bow_char_max_length, 0, meaning="0 = all tokens")
    if not is_integer(bow_char_ngrams) or bow_char_ngrams < 0 or bow_char_ngrams == 1:
        raise ValueError(
            f"bow_char_ngrams must be 0 (no character n-grams) or an integer >= 2 (the longest "
            f"character n-grams, e.g. 5), got {bow_char_ngrams!r}."
        )
    check_integer("freeze_pretrained_steps", freeze_pretrained_steps, 0)
    check_number("pretrained_lr_scale", pretrained_lr_scale, 0.0)
    if not isinstance(bow_C, (list, tuple)) or not bow_C:
        raise ValueError(f"bow_C must be a non-empty list of numbers > 0, got {bow_C!r}.")
    for value in bow_C:
        check_number("bow_C", value, 0.0, low_open=True)
    if not isinstance(bow_weightings, (list, tuple)) or not bow_weightings:
        raise ValueError(f"bow_weightings must be a non-empty list of {WEIGHTINGS}, got {bow_weightings!r}.")
    for value in bow_weightings:
        check_choice("bow_weightings", value, WEIGHTINGS)
    return _textcat_model(cfg, nO)


def _textcat_model(cfg: ArchitectureSettings, nO: Optional[int]) -> Model[List[Doc], Floats2d]:
    from ..keras.networks import POOLINGS
    from ..keras.optimizer import LearningRateGroups
    from ..keras.shim import KerasShim  # imports TensorFlow: only when a model is built

    attr_id(cfg["attr"])
    check_choice("pooling", cfg["pooling"], POOLINGS)
    check_choice("truncation", cfg["truncation"], TRUNCATIONS)
    check_settings(cfg, INTEGER_MINIMUMS, ("dropout", "recurrent_dropout"))
    ranges = bucket_ranges(cfg["bow_length"], cfg["bow_ngram_size"], with_chars=bool(cfg.get("bow_char_ngrams", 0)))
    n_ranges = len(ranges)
    if cfg["ngram_model"] == "fitted" and any(end <= start for start, end in ranges):
        raise ValueError(
            f"bow_length = {cfg['bow_length']} leaves no bucket for some of the n-gram path's "
            f"{n_ranges} bucket ranges (one per order, and one for character n-grams): set "
            f"bow_length > {n_ranges} (the configs have 393217)."
        )
    model: Model[List[Doc], Floats2d] = Model(
        "lstm_textcat",
        textcat_forward,
        init=textcat_init,
        dims={"nO": nO, "nV": None, "nE": None},
        attrs={
            "token_table": TokenTable.empty(),
            "cfg": cfg,
            "resize_output": resize_textcat_output,
            "ngram_choice": {},
            "ngram_bias": [],
            "training_state": TrainingState(),
        },
    )
    model._shims.append(
        KerasShim(
            partial(build_network, model),
            loss="softmax_crossentropy" if cfg["exclusive_classes"] else "sigmoid_crossentropy",
            activation="softmax" if cfg["exclusive_classes"] else "sigmoid",
            numpy_forward=partial(numpy_forward_of, cfg),
            learning_rate_groups=LearningRateGroups(
                group_of=lambda path: "encoder" if is_encoder(path) else "head",
                scale=partial(_encoder_rate, cfg.get("pretrained_lr_scale", 1.0), cfg.get("freeze_pretrained_steps", 0)),
            ),
        )
    )
    return model


def _encoder_rate(lr_scale: float, freeze_steps: int, group: str, step: int) -> float:
    """The learning-rate multiple of a variable group at a step (see v2's docstring)."""
    if group != "encoder":
        return 1.0
    return 0.0 if step < freeze_steps else lr_scale


@registry.misc("spacy_lstm.truncated_length.v1")
def make_truncated_length(max_length: int) -> Callable[[object], int]:
    """`get_length` for `spacy.batch_by_padded.v1`: a document's length as the network sees
    it (at most `max_length` tokens; 0 = no limit), so that long reviews, which the LSTM reads
    truncated, do not shrink their batches to a handful of documents."""
    check_integer("max_length", max_length, 0, meaning="0 = no limit")

    def truncated_length(item) -> int:
        return min(len(item), max_length) if max_length else len(item)

    return truncated_length
