"""spaCy's `[training.optimizer]` (a thinc `Optimizer`) as a Keras optimizer.

The Keras optimizer is built once per thinc optimizer and then follows it: the learning rate
(and L2) are copied into it before every step, so spaCy's schedules (warmup, decay) mean what
they say. How each setting arrives:

* `learn_rate`, Adam's `beta1` / `beta2` / `eps`: the Keras optimizer's own settings (Adam
  when both betas are > 0, as thinc decides, else SGD).
* `grad_clip`: `clipnorm`, a norm per variable, as thinc clips each parameter.
* `L2` with `L2_is_weight_decay = true`: Keras' decoupled weight decay (AdamW for Adam).
* `L2` with `L2_is_weight_decay = false`: `L2 * weight` added to every gradient inside the
  compiled step, as thinc adds it (`regularize`).
* `use_averages` and `use_radam` have no Keras counterpart here: a warning, once per process,
  names the setting instead of dropping it silently.

An architecture may split its variables into groups whose learning rate is a multiple of
spaCy's, changing with the step (`LearningRateGroups`): discriminative fine-tuning of
pretrained layers, and freezing them for the first steps (a multiple of 0 moves nothing,
weight decay included, since Keras scales it by the learning rate). Each group has its own
Keras optimizer with the same settings.
"""
import warnings
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Set

import numpy

from thinc.api import Optimizer

from .backend import keras, tf

_WARNED: Set[str] = set()


def _warn_once(setting: str, message: str) -> None:
    if setting not in _WARNED:
        _WARNED.add(setting)
        warnings.warn(message, UserWarning, stacklevel=4)


def warn_unsupported(optimizer: Optimizer) -> None:
    """Name the settings that have no effect on a Keras network (once per process each)."""
    if optimizer.averages is not None:
        _warn_once(
            "use_averages",
            "[training.optimizer] use_averages = true has no effect on spacy-lstm components: "
            "their Keras network is evaluated and saved with its current weights, not with "
            "parameter averages. Set use_averages = false to silence this warning.",
        )
    if optimizer.use_radam:
        _warn_once(
            "use_radam",
            "[training.optimizer] RAdam (use_radam) has no Keras counterpart here: spacy-lstm "
            "components train with Adam. Use Adam.v1 to silence this warning.",
        )


def build_keras_optimizer(optimizer: Optimizer) -> "keras.optimizers.Optimizer":
    """A new, unbuilt Keras optimizer with the thinc optimizer's current settings."""
    kwargs = dict(
        learning_rate=float(optimizer.learn_rate),
        clipnorm=float(optimizer.grad_clip) if optimizer.grad_clip else None,
    )
    if optimizer.L2 and optimizer.L2_is_weight_decay:
        kwargs["weight_decay"] = float(optimizer.L2)
    if optimizer.b1 > 0 and optimizer.b2 > 0:
        kwargs.update(beta_1=float(optimizer.b1), beta_2=float(optimizer.b2), epsilon=float(optimizer.eps))
        return keras.optimizers.AdamW(**kwargs) if "weight_decay" in kwargs else keras.optimizers.Adam(**kwargs)
    return keras.optimizers.SGD(**kwargs)


def _adds_l2_to_gradients(optimizer: Optimizer) -> bool:
    return not optimizer.L2_is_weight_decay and (bool(optimizer.L2) or "L2" in optimizer.schedules)


@dataclass
class LearningRateGroups:
    """group_of: a variable's path -> its group's name; scale: (group, number of steps taken)
    -> the multiple of spaCy's learning rate that the group trains with."""

    group_of: Callable[[str], str]
    scale: Callable[[str, int], float]


ONE_GROUP = LearningRateGroups(group_of=lambda path: "all", scale=lambda group, step: 1.0)


class OptimizerLink:
    """The Keras optimizers standing in for one thinc optimizer, for one network's variables:
    one per learning-rate group (one in all unless the architecture asks for groups)."""

    def __init__(self, groups: LearningRateGroups = ONE_GROUP) -> None:
        self.groups = groups
        self._optimizers: Dict[str, "keras.optimizers.Optimizer"] = {}
        self._members: Dict[str, List[int]] = {}  # group -> indices into the variables
        # The thinc optimizer itself, not its id(): a new optimizer may reuse a freed id.
        self._owner: Optional[Optimizer] = None
        self._l2: Optional[tf.Variable] = None  # L2 added to the gradients, or None
        self.steps = 0  # optimizer steps taken with the current thinc optimizer

    @property
    def keras_optimizer(self) -> Optional["keras.optimizers.Optimizer"]:
        """The Keras optimizer of the first (with one group, the only) group."""
        return next(iter(self._optimizers.values()), None)

    def sync(self, optimizer: Optional[Optimizer], variables) -> bool:
        """Bring the Keras optimizers up to date with `optimizer` before a step. Returns True
        when new Keras optimizers were built (compiled steps that use them must be retraced)."""
        if optimizer is None:
            raise ValueError("An optimizer is needed to update the model (pass sgd=...).")
        rebuilt = not self._optimizers or self._owner is not optimizer
        if rebuilt:
            warn_unsupported(optimizer)
            self._members = {}
            for i, variable in enumerate(variables):
                self._members.setdefault(self.groups.group_of(variable.path), []).append(i)
            self._optimizers = {}
            for group, members in self._members.items():
                self._optimizers[group] = build_keras_optimizer(optimizer)
                self._optimizers[group].build([variables[i] for i in members])
            self._owner = optimizer
            self._l2 = tf.Variable(0.0, trainable=False, name="l2") if _adds_l2_to_gradients(optimizer) else None
            self.steps = 0
        for group, keras_optimizer in self._optimizers.items():
            keras_optimizer.learning_rate.assign(float(optimizer.learn_rate) * self.groups.scale(group, self.steps))
        if self._l2 is not None:
            self._l2.assign(float(optimizer.L2))
        return rebuilt

    def apply(self, gradients: List, variables: List) -> None:
        """One optimizer step for every group (inside the compiled step)."""
        gradients = self.regularize(gradients, variables)
        for group, members in self._members.items():
            self._optimizers[group].apply([gradients[i] for i in members], [variables[i] for i in members])

    def regularize(self, gradients: List, variables: List) -> List:
        """The gradients with `L2 * weight` added (in the graph), when L2 is not weight decay."""
        if self._l2 is None:
            return gradients
        return [None if g is None else tf.convert_to_tensor(g) + self._l2 * v for g, v in zip(gradients, variables)]

    # -- the state as plain arrays (saved with the model, so training resumes) -----------------

    def _slots(self, variables):
        """(name, Keras optimizer variable) of every slot: "iterations/<group>", and per
        weight "<slot>/<weight path>" (Adam: momentum and velocity)."""
        for group, members in self._members.items():
            keras_optimizer = self._optimizers[group]
            yield f"iterations/{group}", keras_optimizer.iterations
            for i in members:
                suffix = variables[i].path.replace("/", "_")
                for slot in keras_optimizer.variables:
                    for kind in ("momentum", "velocity"):
                        if slot.path.endswith(f"{suffix}_{kind}"):
                            yield f"{kind}/{variables[i].path}", slot

    def get_state(self, variables) -> Dict[str, numpy.ndarray]:
        # at least 1-d: msgpack keeps the shape of every other array
        state = {name: numpy.atleast_1d(slot.numpy()) for name, slot in self._slots(variables)}
        state["steps"] = numpy.asarray([self.steps], dtype="int64")
        return state

    def set_state(self, state: Dict[str, numpy.ndarray], variables) -> None:
        """Restore get_state's arrays; a slot whose shape changed (e.g. a grown vocabulary)
        keeps its old values in the leading part and zeros in the new."""
        for name, slot in self._slots(variables):
            if name not in state:
                continue
            old, value = numpy.asarray(state[name]), numpy.zeros(slot.shape, slot.dtype)
            if not value.shape:  # a step count
                slot.assign(old.reshape(-1)[0])
                continue
            value[tuple(slice(0, min(a, b)) for a, b in zip(old.shape, value.shape))] = old[
                tuple(slice(0, min(a, b)) for a, b in zip(old.shape, value.shape))
            ]
            slot.assign(value)
        self.steps = int(numpy.asarray(state.get("steps", [self.steps])).reshape(-1)[0])
