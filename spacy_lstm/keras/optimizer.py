"""spaCy's `[training.optimizer]` (a thinc `Optimizer`) as a Keras optimizer.

The Keras optimizer is built once per thinc optimizer and then follows it: the learning rate
is copied into the Keras optimizer before every step, so spaCy's schedules (warmup, decay)
mean what they say. Adam's betas and eps carry over; `L2_is_weight_decay` becomes Keras'
decoupled weight decay (AdamW for Adam); `grad_clip` becomes `clipnorm` (per-variable norm,
as thinc clips each parameter).
"""
from typing import Optional

from thinc.api import Optimizer

from .backend import keras


def build_keras_optimizer(optimizer: Optimizer) -> "keras.optimizers.Optimizer":
    """A new, unbuilt Keras optimizer with the thinc optimizer's current settings."""
    kwargs = dict(
        learning_rate=float(optimizer.learn_rate),
        clipnorm=float(optimizer.grad_clip) if optimizer.grad_clip else None,
    )
    if optimizer.b1 > 0 and optimizer.b2 > 0:
        kwargs.update(beta_1=float(optimizer.b1), beta_2=float(optimizer.b2), epsilon=float(optimizer.eps))
        if optimizer.L2 and optimizer.L2_is_weight_decay:
            return keras.optimizers.AdamW(weight_decay=float(optimizer.L2), **kwargs)
        return keras.optimizers.Adam(**kwargs)
    return keras.optimizers.SGD(**kwargs)


class OptimizerLink:
    """The Keras optimizer standing in for one thinc optimizer, for one network's variables."""

    def __init__(self) -> None:
        self.keras_optimizer: Optional["keras.optimizers.Optimizer"] = None
        self._owner: Optional[int] = None

    def sync(self, optimizer: Optional[Optimizer], variables) -> bool:
        """Bring the Keras optimizer up to date with `optimizer` before a step. Returns True
        when a new Keras optimizer was built (compiled steps that use it must be retraced)."""
        if optimizer is None:
            raise ValueError("An optimizer is needed to update the model (pass sgd=...).")
        rebuilt = self.keras_optimizer is None or self._owner != id(optimizer)
        if rebuilt:
            self.keras_optimizer = build_keras_optimizer(optimizer)
            self.keras_optimizer.build(variables)
            self._owner = id(optimizer)
        self.keras_optimizer.learning_rate.assign(float(optimizer.learn_rate))
        return rebuilt
