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
"""
import warnings
from typing import List, Optional, Set

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


class OptimizerLink:
    """The Keras optimizer standing in for one thinc optimizer, for one network's variables."""

    def __init__(self) -> None:
        self.keras_optimizer: Optional["keras.optimizers.Optimizer"] = None
        # The thinc optimizer itself, not its id(): a new optimizer may reuse a freed id.
        self._owner: Optional[Optimizer] = None
        self._l2: Optional[tf.Variable] = None  # L2 added to the gradients, or None

    def sync(self, optimizer: Optional[Optimizer], variables) -> bool:
        """Bring the Keras optimizer up to date with `optimizer` before a step. Returns True
        when a new Keras optimizer was built (compiled steps that use it must be retraced)."""
        if optimizer is None:
            raise ValueError("An optimizer is needed to update the model (pass sgd=...).")
        rebuilt = self.keras_optimizer is None or self._owner is not optimizer
        if rebuilt:
            warn_unsupported(optimizer)
            self.keras_optimizer = build_keras_optimizer(optimizer)
            self.keras_optimizer.build(variables)
            self._owner = optimizer
            self._l2 = tf.Variable(0.0, trainable=False, name="l2") if _adds_l2_to_gradients(optimizer) else None
        self.keras_optimizer.learning_rate.assign(float(optimizer.learn_rate))
        if self._l2 is not None:
            self._l2.assign(float(optimizer.L2))
        return rebuilt

    def regularize(self, gradients: List, variables: List) -> List:
        """The gradients with `L2 * weight` added (in the graph), when L2 is not weight decay."""
        if self._l2 is None:
            return gradients
        return [None if g is None else tf.convert_to_tensor(g) + self._l2 * v for g, v in zip(gradients, variables)]
