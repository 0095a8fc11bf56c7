"""A Keras 3 network behind thinc's `Shim` interface (TensorFlow backend).

thinc's own TensorFlowWrapper is Keras-2-only and copied every weight through NumPy on each
update. This shim keeps forward, backward and the optimizer step inside compiled TensorFlow
graphs (`tf.function`), and stores weights as plain NumPy arrays keyed by Keras variable path
inside thinc's msgpack model file (keras/weights_io.py): no pickle, no Keras archive, no code
from the model directory. The network is always rebuilt from the config, lazily, in the process
that uses it.
"""
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy
from thinc.api import Optimizer
from thinc.shims import Shim

from ..errors import ForkedProcessError
from . import fork
from .backend import keras, tf
from .losses import ACTIVATIONS, LOSSES, NUMPY_ACTIVATIONS
from .optimizer import ONE_GROUP, LearningRateGroups, OptimizerLink
from .weights_io import Weights, assign_weights, weights_from_bytes, weights_to_bytes


def as_tensors(inputs):
    """A network input (one array, or a tuple of arrays for multi-input networks) as tensors."""
    return tf.nest.map_structure(tf.convert_to_tensor, inputs)


class KerasShim(Shim):
    """A Keras 3 network behind thinc's Shim interface.

    build_network: makes the (untrained) Keras model from the spaCy config; called lazily,
        in the process that uses it.
    loss: name in losses.LOSSES used by the compiled training steps.
    activation: name in losses.ACTIVATIONS applied to the logits at prediction.
    numpy_forward: (weights by path, inputs) -> logits, the same network in NumPy, used
        where TensorFlow cannot run (forked workers). Optional.
    learning_rate_groups: groups of variables that train at a multiple of spaCy's learning
        rate, changing with the step (keras/optimizer.py). Optional: one group.
    """

    def __init__(
        self,
        build_network: Callable[[], "keras.Model"],
        *,
        loss: str,
        activation: str,
        numpy_forward: Optional[Callable[[Weights, Any], numpy.ndarray]] = None,
        learning_rate_groups: LearningRateGroups = ONE_GROUP,
    ):
        super().__init__(None, config={"loss": loss, "activation": activation})
        self._learning_rate_groups = learning_rate_groups
        self._build_network = build_network
        self._loss = LOSSES[loss]
        self._activation = ACTIVATIONS[activation]
        self._numpy_forward = numpy_forward
        self._weights: Optional[Weights] = None  # arrays not yet in a network
        self._snapshot: Optional[Weights] = None  # arrays for forked workers
        self._snapshot_version = -1
        self._version = 0
        self._reset_training_state()
        fork.track(self)

    # -- the network ------------------------------------------------------------------------

    @property
    def is_built(self) -> bool:
        return self._model is not None

    @property
    def has_weights(self) -> bool:
        return self._model is not None or self._weights is not None

    @property
    def network(self) -> "keras.Model":
        """The Keras model, built on first use with any weights loaded from disk."""
        fork.require_tensorflow("Building or training the Keras network")
        if self._model is None:
            model = self._build_network()
            if self._weights is not None:
                assign_weights(model, self._weights)
                self._weights = None
            self._model = model
        return self._model

    def build(self) -> None:
        """Build the network now: with the loaded weights, or fresh random ones."""
        self.network

    def rebuild(self, build_network: Callable[[], "keras.Model"], weights: Optional[Weights] = None) -> None:
        """Swap in a new architecture (e.g. more output labels), with the given weights or,
        without them, freshly initialised ones."""
        self._build_network = build_network
        self._model = None
        self._weights = dict(weights) if weights is not None else None
        self._reset_training_state()
        self._version += 1

    def _reset_training_state(self) -> None:
        """Forget what belongs to the network being replaced: its compiled graphs, the Keras
        optimizer and its slots, accumulated gradients and batches waiting for finish_update."""
        self._graphs: Dict[str, Callable] = {}
        self._optimizer = OptimizerLink(self._learning_rate_groups)
        self._saved_optimizer_state: Optional[Weights] = None  # to restore at the next sync
        self._grad_accumulators: Optional[List[Any]] = None
        self._has_accumulated = False
        self._pending: List[tuple] = []

    # -- weights as plain arrays ------------------------------------------------------------

    def get_weights(self) -> Weights:
        """Weights by variable path (e.g. "lstm_textcat/embedding/embeddings")."""
        if self._model is None:
            return dict(self._weights or {})
        if not fork.tensorflow_usable():
            return dict(self._snapshot or {})
        return {v.path: numpy.asarray(v.numpy()) for v in self._model.weights}

    def get_weight(self, path: str) -> numpy.ndarray:
        """One weight by variable path, without copying the others (get_weights copies all)."""
        if self._model is None or not fork.tensorflow_usable():
            return self.get_weights()[path]
        for variable in self._model.weights:
            if variable.path == path:
                return numpy.asarray(variable.numpy())
        raise KeyError(f"The network has no weight {path!r}; it has {sorted(v.path for v in self._model.weights)}.")

    def set_weights(self, weights: Weights) -> None:
        if self._model is None:
            self._weights = dict(weights)
        else:
            assign_weights(self._model, weights)
        self._version += 1

    def snapshot_weights(self) -> None:
        """Cache the weights as arrays (before a fork, so forked workers can predict)."""
        if self._model is not None and fork.tensorflow_usable() and self._snapshot_version != self._version:
            self._snapshot = self.get_weights()
            self._snapshot_version = self._version

    def get_optimizer_state(self) -> Optional[Weights]:
        """The optimizer's state as arrays (e.g. Adam's step count and its two moments per
        weight, "momentum/<weight path>"), or None before the first step."""
        if self._optimizer.keras_optimizer is None:
            return self._saved_optimizer_state
        if not fork.tensorflow_usable():
            return None
        return self._optimizer.get_state(self.network.trainable_variables)

    def set_optimizer_state(self, state: Optional[Weights]) -> None:
        """Restore `state` (from get_optimizer_state) when the next step builds the optimizer."""
        self._optimizer = OptimizerLink(self._learning_rate_groups)
        self._graphs = {k: v for k, v in self._graphs.items() if k not in self._OPTIMIZER_GRAPHS}
        self._saved_optimizer_state = dict(state) if state else None

    def to_bytes(self) -> bytes:
        # the optimizer state too, so that training resumes where it stopped (`source`)
        return weights_to_bytes(self.get_weights(), self.get_optimizer_state())

    def from_bytes(self, data: bytes) -> "KerasShim":
        weights, optimizer_state = weights_from_bytes(data)
        if weights:
            self._model = None
            self._reset_training_state()
            self._saved_optimizer_state = optimizer_state
            self._weights = weights
            self._snapshot = weights
            self._version += 1
            self._snapshot_version = self._version
        return self

    def to_device(self, device_type: str, device_id: int) -> None:
        """TensorFlow places the network itself (on a GPU when it sees one)."""

    def copy(self) -> "KerasShim":
        clone = type(self)(
            self._build_network,
            loss=self.cfg["loss"],
            activation=self.cfg["activation"],
            numpy_forward=self._numpy_forward,
            learning_rate_groups=self._learning_rate_groups,
        )
        if self.has_weights:
            clone.set_weights(self.get_weights())
        return clone

    def __deepcopy__(self, memo):
        return self.copy()

    # -- prediction -------------------------------------------------------------------------

    def predict(self, inputs) -> numpy.ndarray:
        if not fork.tensorflow_usable():
            return NUMPY_ACTIVATIONS[self.cfg["activation"]](self.numpy_logits(inputs)).astype("float32")
        return self._graph(self._predict_graph)(as_tensors(inputs)).numpy()

    def numpy_logits(self, inputs) -> numpy.ndarray:
        """The network's logits computed by its NumPy twin (in forked workers)."""
        weights = self._snapshot if self._model is not None else self._weights
        if self._numpy_forward is None or weights is None:
            raise ForkedProcessError("Prediction with this network")
        return self._numpy_forward(weights, inputs)

    # -- training ---------------------------------------------------------------------------

    def update(
        self,
        inputs,
        targets,
        weights,
        optimizer: Optional[Optimizer],
        *,
        on_loss: Callable[[float], None],
        logit_offsets: Optional[numpy.ndarray] = None,
    ) -> None:
        """Train on one batch. With an optimizer the step runs now. Without one (spaCy's
        training loop calls `update(sgd=False)` and then `finish_update(optimizer)`), the batch
        waits for `finish_update`, so that a step is still ONE fused graph call; several
        waiting batches (gradient accumulation) are summed first. `on_loss` gets the loss.
        `logit_offsets` (same shape as the logits) are added to the logits before the loss:
        what the network should learn on top of (e.g. out-of-fold logits of a fitted path)."""
        self._pending.append((inputs, targets, weights, logit_offsets, on_loss))
        if optimizer:
            self.finish_update(optimizer)

    def finish_update(self, optimizer: Optimizer) -> None:
        pending, self._pending = self._pending, []
        if len(pending) == 1 and not self._has_accumulated:
            *batch, on_loss = pending[0]
            on_loss(self.train_step(*batch, optimizer))
            return
        for *batch, on_loss in pending:
            on_loss(self.accumulate_gradients(*batch))
        if self._has_accumulated:
            self._sync_optimizer(optimizer)
            self._graph(self._apply_accumulated_graph)()
            self._has_accumulated = False
            self._stepped()

    def train_step(self, inputs, targets, weights, logit_offsets, optimizer: Optimizer) -> float:
        """One compiled forward + backward + optimizer step; returns the loss."""
        self._sync_optimizer(optimizer)
        loss = self._graph(self._train_step_graph)(*self._batch_tensors(inputs, targets, weights, logit_offsets))
        self._stepped()
        return float(loss)

    def _stepped(self) -> None:
        self._optimizer.steps += 1
        self._version += 1

    def accumulate_gradients(self, inputs, targets, weights, logit_offsets=None) -> float:
        """Compute the loss gradient and add it to the accumulators (for `finish_update`)."""
        self._ensure_accumulators()
        loss = self._graph(self._accumulate_loss_graph)(*self._batch_tensors(inputs, targets, weights, logit_offsets))
        self._has_accumulated = True
        return float(loss)

    @staticmethod
    def _batch_tensors(inputs, targets, weights, logit_offsets):
        offsets = None if logit_offsets is None else tf.convert_to_tensor(logit_offsets, tf.float32)
        return as_tensors(inputs), tf.convert_to_tensor(targets), tf.convert_to_tensor(weights), offsets

    def begin_update(self, inputs) -> Tuple[numpy.ndarray, Callable]:
        """thinc's protocol: outputs now, gradients of the outputs later. The outputs come
        from a training-mode pass (dropout on), and the backward pass recomputes that same
        pass under a tape from the same random state, so the gradient is the gradient of the
        very outputs returned."""
        inputs = as_tensors(inputs)
        outputs, random_state = self._graph(self._train_forward_graph)(inputs)

        def backprop(d_outputs):
            self._ensure_accumulators()
            d_outputs = tf.convert_to_tensor(numpy.asarray(d_outputs, dtype="float32"))
            self._graph(self._accumulate_vjp_graph)(inputs, d_outputs, random_state)
            self._has_accumulated = True
            return None

        return outputs.numpy(), backprop

    def _ensure_accumulators(self) -> None:
        if self._grad_accumulators is None:
            self._grad_accumulators = [
                tf.Variable(tf.zeros_like(v.value), trainable=False) for v in self.network.trainable_variables
            ]

    # The compiled graphs that apply the optimizer: retraced when new Keras optimizers are built.
    _OPTIMIZER_GRAPHS = ("_train_step_graph", "_apply_accumulated_graph")

    def _sync_optimizer(self, optimizer: Optimizer) -> None:
        if self._optimizer.sync(optimizer, self.network.trainable_variables):
            for name in self._OPTIMIZER_GRAPHS:
                self._graphs.pop(name, None)
            if self._saved_optimizer_state:
                self._optimizer.set_state(self._saved_optimizer_state, self.network.trainable_variables)
                self._optimizer.sync(optimizer, self.network.trainable_variables)  # the restored step's rate
            self._saved_optimizer_state = None

    @property
    def keras_optimizer(self):
        """The Keras optimizer that the last update used (None before training)."""
        return self._optimizer.keras_optimizer

    # -- compiled graphs --------------------------------------------------------------------

    def _graph(self, body: Callable, **tf_function_kwargs) -> Callable:
        """The compiled `tf.function` of one of the `*_graph` methods, traced on first use and
        kept until the network or the optimizer changes."""
        self.network  # build (and load weights) eagerly, never while a graph is traced
        fn = self._graphs.get(body.__name__)
        if fn is None:
            tf_function_kwargs.setdefault("reduce_retracing", True)
            fn = self._graphs[body.__name__] = tf.function(body, **tf_function_kwargs)
        return fn

    def _predict_graph(self, inputs):
        return self._activation(self.network(inputs, training=False))

    def _training_loss(self, inputs, targets, weights, offsets):
        logits = self.network(inputs, training=True)
        if offsets is not None:
            logits = logits + offsets
        return self._loss(targets, logits, weights)

    def _train_step_graph(self, inputs, targets, weights, offsets):
        network = self.network
        with tf.GradientTape() as tape:
            loss = self._training_loss(inputs, targets, weights, offsets)
        variables = network.trainable_variables
        self._optimizer.apply(tape.gradient(loss, variables), variables)
        return loss

    def _accumulate_loss_graph(self, inputs, targets, weights, offsets):
        network = self.network
        with tf.GradientTape() as tape:
            loss = self._training_loss(inputs, targets, weights, offsets)
        self._add_to_accumulators(tape.gradient(loss, network.trainable_variables))
        return loss

    def _random_state(self) -> List[Any]:
        """The variables a training-mode pass draws its dropout masks from (Keras' seed
        generator states): the same state gives the same masks."""
        return [v for v in self.network.non_trainable_variables if v.name == "seed_generator_state"]

    def _train_forward_graph(self, inputs):
        state = [tf.identity(v.value) for v in self._random_state()]  # read before the pass
        return self._activation(self.network(inputs, training=True)), state

    def _accumulate_vjp_graph(self, inputs, d_outputs, random_state):
        network = self.network
        variables = self._random_state()
        now = [tf.identity(v.value) for v in variables]
        for variable, value in zip(variables, random_state):
            variable.assign(value)
        with tf.GradientTape() as tape:
            outputs = self._activation(network(inputs, training=True))
        grads = tape.gradient(outputs, network.trainable_variables, output_gradients=d_outputs)
        self._add_to_accumulators(grads)
        for variable, value in zip(variables, now):
            variable.assign(value)
        return tf.constant(0.0)

    def _add_to_accumulators(self, grads):
        for acc, grad in zip(self._grad_accumulators, grads):
            if grad is not None:
                acc.assign_add(tf.convert_to_tensor(grad))

    def _apply_accumulated_graph(self):
        variables = self.network.trainable_variables
        self._optimizer.apply([tf.identity(a) for a in self._grad_accumulators], variables)
        for acc in self._grad_accumulators:
            acc.assign(tf.zeros_like(acc))
        return tf.constant(0.0)
