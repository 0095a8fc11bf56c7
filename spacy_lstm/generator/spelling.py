"""What an unknown unit costs when `lstm_generator` scores text.

Every unit outside the unit table maps to the one "unknown" id, and a language model soon
learns to predict that id well: scored on the id alone, made-up words ("qwx zzv plorf") look
more typical than real text. Scoring them honestly means also paying for *which* unknown unit
it was: here, the cost of spelling it out with a character unigram model of the training
units (with an end-of-unit symbol), the usual open-vocabulary treatment of unknown words. A
known unit costs what the network says; an unknown one costs the network's probability of
"unknown" times this spelling probability.
"""
import math
from collections import Counter
from typing import Dict, Iterable, Sequence

import srsly
from thinc.api import Model
from thinc.model import deserialize_attr, serialize_attr

# Characters never seen in training share this much of the probability mass, spread over
# the 2 ** 16 characters of the Basic Multilingual Plane.
UNSEEN_MASS = 0.01
UNSEEN_CHARACTERS = 2**16


class SpellingModel:
    """A character unigram model over the training units (see the module docstring)."""

    def __init__(self, counts: Dict[str, int], n_units: int):
        self.counts = dict(counts)
        self.n_units = int(n_units)
        total = sum(self.counts.values()) + self.n_units
        seen = 1.0 - UNSEEN_MASS
        self._char_nll = {c: -math.log(seen * n / total) for c, n in self.counts.items()} if total else {}
        self._end_nll = -math.log(seen * self.n_units / total) if self.n_units else -math.log(UNSEEN_MASS)
        self._unseen_nll = -math.log(UNSEEN_MASS / UNSEEN_CHARACTERS)

    @classmethod
    def from_units(cls, unit_lists: Iterable[Sequence[str]]) -> "SpellingModel":
        counts: Counter = Counter()
        n_units = 0
        for units in unit_lists:
            for unit in units:
                counts.update(unit)
            n_units += len(units)
        return cls(counts, n_units)

    @classmethod
    def empty(cls) -> "SpellingModel":
        """No training text seen (models saved before spelling costs existed): every
        character costs as much as an unseen one."""
        return cls({}, 0)

    def nll(self, unit: str) -> float:
        """The cost in nats of spelling `unit` out, its end included."""
        get = self._char_nll.get
        return sum(get(c, self._unseen_nll) for c in unit) + self._end_nll


@serialize_attr.register(SpellingModel)
def _serialize_spelling(_, value: SpellingModel, name: str, model: Model) -> bytes:
    return srsly.msgpack_dumps({"counts": value.counts, "n_units": value.n_units})


@deserialize_attr.register(SpellingModel)
def _deserialize_spelling(_, value: bytes, name: str, model: Model) -> SpellingModel:
    msg = srsly.msgpack_loads(value)
    return SpellingModel(msg["counts"], msg["n_units"])
