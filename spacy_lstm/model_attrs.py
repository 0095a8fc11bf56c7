"""What the registered architectures keep on their thinc `Model`, and how thinc saves it.

* `ArchitectureSettings`: the architecture's settings. They come from the config every time
  a pipeline is built, so they are not saved beside the weights: thinc would otherwise restore
  a stale copy over the config's values (and an older file would lack newer settings).
* `TrainingState`: what an architecture needs only while it trains; never saved.
* `TokenTable`: token (or unit) strings in id order, 0 padding and 1 unknown, saved as that
  list of strings; lookups by attribute hash are vectorised with `numpy.searchsorted`.
* `get_shim`: the model's Keras shim (keras/shim.py), without importing TensorFlow.

No TensorFlow here: spaCy builds components (and checks whether they are trained) before any
network exists.
"""
from typing import Dict, Sequence

import numpy
import srsly
from spacy.strings import get_string_id
from thinc.api import Model
from thinc.model import deserialize_attr, serialize_attr

from .validate import check_integer, check_number

PAD_ID = 0
UNK_ID = 1
PAD_TOKEN = "<pad>"
UNK_TOKEN = "<unk>"


class ArchitectureSettings(dict):
    """An architecture's settings from the config (see the module docstring)."""


class TrainingState(dict):
    """What an architecture keeps only while it trains in this process (e.g. out-of-fold
    logits by text): never saved, empty after loading."""


def check_settings(settings: dict, integer_minimums: Dict[str, int], rates: Sequence[str] = ()) -> None:
    """Check an architecture's integer settings (each >= its minimum) and its rates (dropout
    and the like, in [0, 1))."""
    for name, low in integer_minimums.items():
        check_integer(name, settings[name], low)
    for name in rates:
        check_number(name, settings[name], 0.0, 1.0, high_open=True)


class TokenTable:
    """Token strings in id order: 0 is padding, 1 is unknown, then by frequency."""

    def __init__(self, tokens: Sequence[str]):
        if list(tokens[:2]) != [PAD_TOKEN, UNK_TOKEN]:
            raise ValueError(
                "A token table must start with the padding and unknown tokens "
                f"({PAD_TOKEN!r}, {UNK_TOKEN!r}); got {list(tokens[:2])!r}. "
                "The model data is corrupted: retrain or re-save the pipeline."
            )
        self.tokens = list(tokens)
        hashes = numpy.asarray([get_string_id(t) for t in self.tokens[2:]], dtype="uint64")
        order = numpy.argsort(hashes, kind="stable")
        self._sorted_hashes = hashes[order]
        self._sorted_ids = (order + 2).astype("int32")

    @classmethod
    def empty(cls) -> "TokenTable":
        return cls([PAD_TOKEN, UNK_TOKEN])

    def __len__(self) -> int:
        return len(self.tokens)

    def lookup(self, hashes: numpy.ndarray) -> numpy.ndarray:
        """Map attribute hashes to ids; unseen hashes get UNK_ID."""
        if len(self._sorted_hashes) == 0:
            return numpy.full(len(hashes), UNK_ID, dtype="int32")
        pos = numpy.searchsorted(self._sorted_hashes, hashes)
        pos = numpy.minimum(pos, len(self._sorted_hashes) - 1)
        found = self._sorted_hashes[pos] == hashes
        return numpy.where(found, self._sorted_ids[pos], UNK_ID).astype("int32")


def get_shim(model: Model):
    """The KerasShim of a spacy-lstm architecture."""
    return model.shims[0]


@serialize_attr.register(ArchitectureSettings)
def _serialize_settings(_, value: ArchitectureSettings, name: str, model: Model) -> bytes:
    return b""


@deserialize_attr.register(ArchitectureSettings)
def _deserialize_settings(current: ArchitectureSettings, value: bytes, name: str, model: Model):
    return current


@serialize_attr.register(TrainingState)
def _serialize_training_state(_, value: TrainingState, name: str, model: Model) -> bytes:
    return b""


@deserialize_attr.register(TrainingState)
def _deserialize_training_state(current: TrainingState, value: bytes, name: str, model: Model):
    return TrainingState()


@serialize_attr.register(TokenTable)
def _serialize_token_table(_, value: TokenTable, name: str, model: Model) -> bytes:
    return srsly.msgpack_dumps(value.tokens)


@deserialize_attr.register(TokenTable)
def _deserialize_token_table(_, value: bytes, name: str, model: Model) -> TokenTable:
    return TokenTable(srsly.msgpack_loads(value))
