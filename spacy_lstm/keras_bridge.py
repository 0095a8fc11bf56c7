"""The bridge between a thinc `Model` and a Keras 3 network (TensorFlow backend).

thinc's own TensorFlowWrapper is Keras-2-only and copied every weight through NumPy on each
update. This shim instead keeps forward, backward and the optimizer step inside compiled
TensorFlow graphs (`tf.function`), maps spaCy's `[training.optimizer]` (learning-rate
schedule, betas, L2 as weight decay, gradient clipping) onto a Keras optimizer, and stores
weights as plain NumPy arrays inside thinc's msgpack model file: no pickle, no Keras
archive, no code from the model directory. The network is always rebuilt from the config.

TensorFlow cannot run in a process forked after it started (spaCy's `nlp.pipe(n_process=2)`
forks). Before every fork the shims snapshot their weights as arrays; in the forked child
prediction runs through a NumPy implementation of the same network instead of TensorFlow.
"""
import os
import weakref
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy
import srsly
from threadpoolctl import threadpool_limits
from thinc.api import Optimizer
from thinc.shims import Shim

from .errors import ModelDataError
from .keras_setup import keras, tf
from .numpy_runtime import sigmoid as np_sigmoid, softmax as np_softmax

WEIGHTS_FORMAT = "spacy-lstm.weights"
WEIGHTS_VERSION = 1

# --- losses: (targets, logits, weights) -> scalar mean over weighted entries -----------------


def softmax_crossentropy(targets, logits, weights):
    """Exclusive classes: targets one-hot rows; weights zero out missing rows."""
    per_row = tf.nn.softmax_cross_entropy_with_logits(labels=targets, logits=logits)
    row_weights = tf.reduce_max(weights, axis=-1)
    return tf.reduce_sum(per_row * row_weights) / tf.maximum(tf.reduce_sum(row_weights), 1.0)


def sigmoid_crossentropy(targets, logits, weights):
    """Multilabel: independent binary cross-entropy per label; weight 0 = missing value."""
    per_cell = tf.nn.sigmoid_cross_entropy_with_logits(labels=targets, logits=logits)
    return tf.reduce_sum(per_cell * weights) / tf.maximum(tf.reduce_sum(weights), 1.0)


def sparse_crossentropy(targets, logits, weights):
    """Language modelling: next-unit ids per time step; weight 0 = padding."""
    per_step = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=targets, logits=logits)
    return tf.reduce_sum(per_step * weights) / tf.maximum(tf.reduce_sum(weights), 1.0)


LOSSES = {
    "softmax_crossentropy": softmax_crossentropy,
    "sigmoid_crossentropy": sigmoid_crossentropy,
    "sparse_crossentropy": sparse_crossentropy,
}
ACTIVATIONS = {"softmax": tf.nn.softmax, "sigmoid": tf.nn.sigmoid, "linear": tf.identity}
NUMPY_ACTIVATIONS = {"softmax": np_softmax, "sigmoid": np_sigmoid, "linear": lambda x: x}


def as_tensors(inputs):
    """A network input (one array, or a tuple of arrays for multi-input networks) as tensors."""
    return tf.nest.map_structure(tf.convert_to_tensor, inputs)


# --- fork safety ----------------------------------------------------------------------------

_LIVE_SHIMS: "weakref.WeakSet[KerasShim]" = weakref.WeakSet()
_TF_UNUSABLE = False


def _snapshot_before_fork() -> None:
    for shim in list(_LIVE_SHIMS):
        shim.snapshot_weights()


def _mark_forked_child() -> None:
    """In a forked worker, TensorFlow is off limits, and the NumPy runtime gets one BLAS
    thread: spaCy runs one worker per core, and BLAS threads spinning against each other
    made n_process=2 five times slower (302 vs 1,427 docs/s on 2 cores)."""
    global _TF_UNUSABLE
    _TF_UNUSABLE = True
    threadpool_limits(limits=1, user_api="blas")


os.register_at_fork(before=_snapshot_before_fork, after_in_child=_mark_forked_child)


def tensorflow_usable() -> bool:
    """False in a process forked from one where TensorFlow was already imported."""
    return not _TF_UNUSABLE


# --- the shim -------------------------------------------------------------------------------


class KerasShim(Shim):
    """A Keras 3 network behind thinc's Shim interface.

    build_network: makes the (untrained) Keras model from the spaCy config; called lazily,
        in the process that uses it.
    loss: name in LOSSES used by the compiled training steps.
    activation: name in ACTIVATIONS applied to the logits at prediction.
    numpy_forward: (weights by path, inputs) -> logits, the same network in NumPy, used
        where TensorFlow cannot run (forked workers). Optional.
    """

    def __init__(
        self,
        build_network: Callable[[], "keras.Model"],
        *,
        loss: str,
        activation: str,
        numpy_forward: Optional[Callable[[Dict[str, numpy.ndarray], numpy.ndarray], numpy.ndarray]] = None,
    ):
        super().__init__(None, config={"loss": loss, "activation": activation})
        self._build_network = build_network
        self._loss = LOSSES[loss]
        self._activation = ACTIVATIONS[activation]
        self._numpy_forward = numpy_forward
        self._weights: Optional[Dict[str, numpy.ndarray]] = None  # arrays not yet in a network
        self._snapshot: Optional[Dict[str, numpy.ndarray]] = None
        self._snapshot_version = -1
        self._version = 0
        self._compiled: Dict[str, Callable] = {}
        self._keras_optimizer = None
        self._optimizer_owner: Optional[int] = None
        self._grad_accumulators: Optional[List[Any]] = None
        self._has_accumulated = False
        self._pending: List[tuple] = []  # batches waiting for finish_update
        _LIVE_SHIMS.add(self)

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
        if not tensorflow_usable():
            raise RuntimeError(
                "TensorFlow cannot run in a process forked after it was started. "
                "Prediction in forked workers uses the NumPy runtime; training must run in "
                "the main process."
            )
        if self._model is None:
            model = self._build_network()
            if self._weights is not None:
                self._assign(model, self._weights)
                self._weights = None
            self._model = model
        return self._model

    def rebuild(
        self, build_network: Callable[[], "keras.Model"], weights: Optional[Dict[str, numpy.ndarray]] = None
    ) -> None:
        """Swap in a new architecture (e.g. more output labels), with the given weights or,
        without them, freshly initialised ones."""
        self._build_network = build_network
        self._model = None
        self._weights = dict(weights) if weights is not None else None
        self._compiled.clear()
        self._keras_optimizer = None
        self._grad_accumulators = None
        self._has_accumulated = False
        self._pending = []
        self._version += 1

    # -- weights as plain arrays ------------------------------------------------------------

    def get_weights(self) -> Dict[str, numpy.ndarray]:
        """Weights by variable path (e.g. "lstm_textcat/embedding/embeddings")."""
        if self._model is None:
            return dict(self._weights or {})
        if not tensorflow_usable():
            return dict(self._snapshot or {})
        return {v.path: numpy.asarray(v.numpy()) for v in self._model.weights}

    def set_weights(self, weights: Dict[str, numpy.ndarray]) -> None:
        if self._model is None:
            self._weights = dict(weights)
        else:
            self._assign(self._model, weights)
        self._version += 1

    @staticmethod
    def _assign(model: "keras.Model", weights: Dict[str, numpy.ndarray]) -> None:
        expected = {v.path: tuple(v.shape) for v in model.weights}
        got = {path: tuple(numpy.shape(array)) for path, array in weights.items()}
        if expected != got:
            missing = sorted(set(expected) - set(got))
            extra = sorted(set(got) - set(expected))
            wrong = sorted(p for p in set(expected) & set(got) if expected[p] != got[p])
            raise ModelDataError(
                "The saved weights do not fit the network built from the config "
                f"(missing: {missing[:5]}, unexpected: {extra[:5]}, wrong shape: "
                f"{[(p, got[p], expected[p]) for p in wrong[:5]]}). Load the weights with the "
                "config they were trained with, or retrain."
            )
        for variable in model.weights:
            variable.assign(weights[variable.path])

    def snapshot_weights(self) -> None:
        """Cache the weights as arrays (before a fork, so forked workers can predict)."""
        if self._model is not None and tensorflow_usable() and self._snapshot_version != self._version:
            self._snapshot = self.get_weights()
            self._snapshot_version = self._version

    def to_bytes(self) -> bytes:
        weights = self.get_weights()
        return srsly.msgpack_dumps(
            {
                "format": WEIGHTS_FORMAT,
                "version": WEIGHTS_VERSION,
                "weights": [[path, numpy.ascontiguousarray(a)] for path, a in weights.items()],
            }
        )

    def from_bytes(self, data: bytes) -> "KerasShim":
        try:
            msg = srsly.msgpack_loads(data)
        except Exception as err:
            raise ModelDataError(f"The model weights could not be read ({err}).") from None
        if not isinstance(msg, dict) or msg.get("format") != WEIGHTS_FORMAT:
            raise ModelDataError("The model weights are not in spacy-lstm's format.")
        weights = {path: numpy.asarray(array) for path, array in msg["weights"]}
        if weights:
            self._model = None
            self._compiled.clear()
            self._keras_optimizer = None
            self._weights = weights
            self._snapshot = weights
            self._version += 1
            self._snapshot_version = self._version
        return self

    def to_device(self, device_type: str, device_id: int) -> None:
        """TensorFlow places the network itself (on a GPU when it sees one)."""

    # -- prediction -------------------------------------------------------------------------

    def predict(self, inputs: numpy.ndarray) -> numpy.ndarray:
        if not tensorflow_usable():
            return self._predict_numpy(inputs)
        return self._compiled_fn("predict")(as_tensors(inputs)).numpy()

    def _predict_numpy(self, inputs: numpy.ndarray) -> numpy.ndarray:
        weights = self._snapshot if self._model is not None else self._weights
        if self._numpy_forward is None or weights is None:
            raise RuntimeError(
                "This network cannot predict in a forked worker process. "
                "Use n_process=1, or create the worker processes with the 'spawn' start method."
            )
        logits = self._numpy_forward(weights, inputs)
        return NUMPY_ACTIVATIONS[self.cfg["activation"]](logits).astype("float32")

    # -- training ---------------------------------------------------------------------------

    def update(self, inputs, targets, weights, optimizer: Optional[Optimizer], *, on_loss: Callable[[float], None]) -> None:
        """Train on one batch. With an optimizer the step runs now. Without one (spaCy's
        training loop calls `update(sgd=False)` and then `finish_update(optimizer)`), the batch
        waits for `finish_update`, so that a step is still ONE fused graph call; several
        waiting batches (gradient accumulation) are summed first. `on_loss` gets the loss."""
        self._pending.append((inputs, targets, weights, on_loss))
        if optimizer:
            self.finish_update(optimizer)

    def finish_update(self, optimizer: Optimizer) -> None:
        pending, self._pending = self._pending, []
        if len(pending) == 1 and not self._has_accumulated:
            inputs, targets, weights, on_loss = pending[0]
            on_loss(self.train_step(inputs, targets, weights, optimizer))
            return
        for inputs, targets, weights, on_loss in pending:
            on_loss(self.accumulate_gradients(inputs, targets, weights))
        if self._has_accumulated:
            self._sync_optimizer(optimizer)
            self._compiled_fn("apply_accumulated")()
            self._has_accumulated = False
            self._version += 1

    def train_step(self, inputs, targets, weights, optimizer: Optimizer) -> float:
        """One compiled forward + backward + optimizer step; returns the loss."""
        self._sync_optimizer(optimizer)
        loss = self._compiled_fn("train_step")(
            as_tensors(inputs), tf.convert_to_tensor(targets), tf.convert_to_tensor(weights)
        )
        self._version += 1
        return float(loss)

    def accumulate_gradients(self, inputs, targets, weights) -> float:
        """Compute the loss gradient and add it to the accumulators (for `finish_update`)."""
        self._ensure_accumulators()
        loss = self._compiled_fn("accumulate_loss")(
            as_tensors(inputs), tf.convert_to_tensor(targets), tf.convert_to_tensor(weights)
        )
        self._has_accumulated = True
        return float(loss)

    def begin_update(self, inputs) -> Tuple[numpy.ndarray, Callable]:
        """thinc's protocol: outputs now, gradients of the outputs later. The backward pass
        recomputes the forward pass under a tape (dropout masks are drawn again)."""
        outputs = self.predict(inputs)

        def backprop(d_outputs):
            self._ensure_accumulators()
            self._compiled_fn("accumulate_vjp")(
                as_tensors(inputs), tf.convert_to_tensor(numpy.asarray(d_outputs, dtype="float32"))
            )
            self._has_accumulated = True
            return None

        return outputs, backprop

    def _ensure_accumulators(self) -> None:
        if self._grad_accumulators is None:
            self._grad_accumulators = [
                tf.Variable(tf.zeros_like(v.value), trainable=False) for v in self.network.trainable_variables
            ]

    def _sync_optimizer(self, optimizer: Optimizer):
        """Map thinc's optimizer onto a Keras one; the learning rate follows spaCy's schedule
        at every step (the training loop advances it with `step_schedules`)."""
        if optimizer is None:
            raise ValueError("An optimizer is needed to update the model (pass sgd=...).")
        if self._keras_optimizer is None or self._optimizer_owner != id(optimizer):
            kwargs = dict(
                learning_rate=float(optimizer.learn_rate),
                clipnorm=float(optimizer.grad_clip) if optimizer.grad_clip else None,
            )
            if optimizer.b1 > 0 and optimizer.b2 > 0:
                kwargs.update(beta_1=float(optimizer.b1), beta_2=float(optimizer.b2), epsilon=float(optimizer.eps))
                if optimizer.L2 and optimizer.L2_is_weight_decay:
                    keras_optimizer = keras.optimizers.AdamW(weight_decay=float(optimizer.L2), **kwargs)
                else:
                    keras_optimizer = keras.optimizers.Adam(**kwargs)
            else:
                keras_optimizer = keras.optimizers.SGD(**kwargs)
            keras_optimizer.build(self.network.trainable_variables)
            self._keras_optimizer = keras_optimizer
            self._optimizer_owner = id(optimizer)
            for name in ("train_step", "apply_accumulated"):
                self._compiled.pop(name, None)
        self._keras_optimizer.learning_rate.assign(float(optimizer.learn_rate))
        return self._keras_optimizer

    @property
    def keras_optimizer(self):
        """The Keras optimizer that the last update used (None before training)."""
        return self._keras_optimizer

    def _compiled_fn(self, name: str) -> Callable:
        self.network  # build (and load weights) eagerly, never while a graph is traced
        if name not in self._compiled:
            self._compiled[name] = tf.function(getattr(self, "_" + name), reduce_retracing=True)
        return self._compiled[name]

    # The bodies below run inside tf.function graphs.

    def _predict(self, inputs):
        return self._activation(self.network(inputs, training=False))

    def _train_step(self, inputs, targets, weights):
        network = self.network
        with tf.GradientTape() as tape:
            loss = self._loss(targets, network(inputs, training=True), weights)
        grads = tape.gradient(loss, network.trainable_variables)
        self._keras_optimizer.apply(grads, network.trainable_variables)
        return loss

    def _accumulate_loss(self, inputs, targets, weights):
        network = self.network
        with tf.GradientTape() as tape:
            loss = self._loss(targets, network(inputs, training=True), weights)
        self._add_to_accumulators(tape.gradient(loss, network.trainable_variables))
        return loss

    def _accumulate_vjp(self, inputs, d_outputs):
        network = self.network
        with tf.GradientTape() as tape:
            outputs = self._activation(network(inputs, training=True))
        grads = tape.gradient(outputs, network.trainable_variables, output_gradients=d_outputs)
        self._add_to_accumulators(grads)
        return tf.constant(0.0)

    def _add_to_accumulators(self, grads):
        for acc, grad in zip(self._grad_accumulators, grads):
            if grad is not None:
                acc.assign_add(tf.convert_to_tensor(grad))

    def _apply_accumulated(self):
        variables = self.network.trainable_variables
        self._keras_optimizer.apply([tf.identity(a) for a in self._grad_accumulators], variables)
        for acc in self._grad_accumulators:
            acc.assign(tf.zeros_like(acc))
        return tf.constant(0.0)

    def copy(self) -> "KerasShim":
        clone = KerasShim(
            self._build_network,
            loss=self.cfg["loss"],
            activation=self.cfg["activation"],
            numpy_forward=self._numpy_forward,
        )
        if self.has_weights:
            clone.set_weights(self.get_weights())
        return clone

    def __deepcopy__(self, memo):
        return self.copy()


# --- sampling in the graph (the TensorFlow twin of spacy_lstm.sampling) -----------------------
#
# spacy_lstm.sampling (NumPy) is the reference; these functions follow the same order of
# operations so that `tf_sampling_distribution` equals `sampling.sampling_distribution` (the
# tests check it): banned ids -> -inf; temperature 0 = greedy argmax; else (logits - row max) /
# temperature; top_k keeps the ids whose value is >= the k-th largest; top_p keeps the most
# likely ids while the mass strictly before them is < top_p (always at least one). Computed in
# float64, like the reference. Exact ties at the top_k / top_p border are all kept (the NumPy
# version keeps exactly k and breaks ties arbitrarily); with float logits ties do not happen.
# Arguments are tensors so that changing them never retraces a graph: temperature (float, 0 =
# greedy), top_k (int, 0 = no limit), top_p (float, >= 1 = no limit), banned_ids (int32 [n]).

_TOP_P_SLACK = 1e-12


def make_tf_sampler(vocab, temperature, top_k, top_p, banned_ids):
    """Build (in the current graph) the sampler for these settings: returns
    (filter(logits) -> (filtered float64 logits, banned-masked logits), sample(logits, key) ->
    int32 ids). Everything that does not depend on the logits is computed here, once, so a
    generation loop repeats only the per-step work. `key` is an int64 [2] stateless-RNG key."""
    neg_inf = tf.constant(-numpy.inf, tf.float64)
    banned = tf.reduce_any(tf.equal(tf.range(vocab)[None, :], tf.cast(banned_ids, tf.int32)[:, None]), axis=0)
    banned = banned[None, :]
    greedy = temperature <= 0
    temperature = tf.where(greedy, tf.constant(1.0, tf.float64), tf.cast(temperature, tf.float64))
    top_k = tf.cast(top_k, tf.int32)
    use_top_k = (top_k > 0) & (top_k < vocab)
    top_p = tf.cast(top_p, tf.float64)
    use_top_p = top_p < 1.0

    def keep_top_k(z):
        # the k-th largest value is the threshold (tf.sort, not tf.math.top_k: any k, and XLA-able)
        kth = tf.gather(tf.sort(z, axis=1, direction="DESCENDING"), top_k - 1, axis=1)
        return tf.where(z >= kth[:, None], z, neg_inf)

    def keep_top_p(z):
        p = tf.nn.softmax(z, axis=1)
        sorted_p = tf.sort(p, axis=1, direction="DESCENDING")
        before = tf.cumsum(sorted_p, axis=1, exclusive=True)  # mass strictly before
        n_keep = tf.maximum(tf.reduce_sum(tf.cast(before < top_p - _TOP_P_SLACK, tf.int32), axis=1), 1)
        cutoff = tf.gather(sorted_p, n_keep - 1, axis=1, batch_dims=1)
        return tf.where(p >= cutoff[:, None], z, neg_inf)

    def filter_logits(logits):
        x = tf.where(banned, neg_inf, tf.cast(logits, tf.float64))
        z = (x - tf.reduce_max(x, axis=1, keepdims=True)) / temperature
        z = tf.cond(use_top_k, lambda: keep_top_k(z), lambda: z)
        z = tf.cond(use_top_p, lambda: keep_top_p(z), lambda: z)
        return z, x

    def sample(logits, key):
        return tf.cond(
            greedy,
            lambda: tf.argmax(tf.where(banned, tf.constant(-numpy.inf, logits.dtype), logits), axis=1, output_type=tf.int32),
            lambda: tf.random.stateless_categorical(filter_logits(logits)[0], 1, key, dtype=tf.int32)[:, 0],
        )

    return filter_logits, sample


def _sampler_args(temperature, top_k, top_p, banned_ids):
    """Python settings -> the tensors make_tf_sampler takes (top_k None -> 0, top_p None -> 1)."""
    return (
        tf.constant(float(temperature), tf.float64),
        tf.constant(int(top_k or 0), tf.int32),
        tf.constant(1.0 if top_p is None else float(top_p), tf.float64),
        tf.constant(list(banned_ids), tf.int32, shape=[len(banned_ids)]),
    )


def tf_sampling_distribution(logits, temperature, top_k=None, top_p=None, banned_ids=()):
    """The distribution the graph sampler draws from: float64 [B, V] rows summing to 1
    (one-hot at the argmax for temperature 0). Equals spacy_lstm.sampling.sampling_distribution(
    logits, is_logits=True, ...) with the same settings (the tests check it)."""
    logits = tf.convert_to_tensor(logits, tf.float32)
    filter_logits, _ = make_tf_sampler(tf.shape(logits)[1], *_sampler_args(temperature, top_k, top_p, banned_ids))
    z, x = filter_logits(logits)
    if temperature == 0:
        return tf.one_hot(tf.argmax(x, axis=1), tf.shape(x)[1], dtype=tf.float64)
    return tf.nn.softmax(z, axis=1)


def tf_sample_next(logits, temperature, top_k=None, top_p=None, banned_ids=(), seed=(0, 0)):
    """One id per row (int32 [B]) drawn from tf_sampling_distribution with the stateless key
    `seed` (two integers): a pure function of its arguments. Greedy for temperature 0."""
    logits = tf.convert_to_tensor(logits, tf.float32)
    _, sample = make_tf_sampler(tf.shape(logits)[1], *_sampler_args(temperature, top_k, top_p, banned_ids))
    return sample(logits, tf.constant(seed, tf.int64))


# --- language models: per-step log-likelihood and stateful generation ------------------------


class LanguageModelShim(KerasShim):
    """A KerasShim for networks.build_language_model with what `lstm_generator` needs on top:

    * `nll(inputs, targets)`: negative log-likelihood (nats) of every target unit, computed in
      the graph so the [batch, time, vocab] probabilities never reach NumPy;
    * `feed(ids, states)` / `generate_block(logits, states, n_steps, ...)`: stateful
      generation. Compiled graphs call the trained LSTM cells directly with explicit (h, c)
      states: the prompt is fed once (a graph loop over its units), then `generate_block`
      samples (in TensorFlow, `make_tf_sampler`) and steps the cells `n_steps` times for the
      whole batch of samples in ONE call; only the sampled ids come back to NumPy. States and
      logits stay TensorFlow tensors between blocks. `step(ids, states)` is a single LSTM step.
    """

    def __init__(self, build_network, *, depth: int, numpy_forward=None):
        super().__init__(build_network, loss="sparse_crossentropy", activation="softmax", numpy_forward=numpy_forward)
        self.cfg["depth"] = depth

    # -- scoring ----------------------------------------------------------------------------

    def nll(self, inputs: numpy.ndarray, targets: numpy.ndarray) -> numpy.ndarray:
        """[batch, time] negative log-likelihood in nats of targets[b, t] after inputs[b, :t+1]."""
        if not tensorflow_usable():
            weights = self._snapshot if self._model is not None else self._weights
            if self._numpy_forward is None or weights is None:
                raise RuntimeError("This language model cannot score text in a forked worker process.")
            logits = self._numpy_forward(weights, inputs).astype("float64")
            logits -= logits.max(axis=-1, keepdims=True)
            log_z = numpy.log(numpy.exp(logits).sum(axis=-1))
            picked = numpy.take_along_axis(logits, targets[..., None].astype("int64"), axis=-1)[..., 0]
            return (log_z - picked).astype("float32")
        return self._compiled_fn("nll")(as_tensors(inputs), tf.convert_to_tensor(targets)).numpy()

    def _nll(self, inputs, targets):
        logits = self.network(inputs, training=False)
        return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=targets, logits=logits)

    # -- stateful generation ----------------------------------------------------------------

    def initial_states(self, batch_size: int):
        width = self.network.get_layer("lstm_0").cell.units
        zeros = tf.zeros((batch_size, width), dtype="float32")
        return tuple((zeros, zeros) for _ in range(self.cfg["depth"]))

    def feed(self, ids: numpy.ndarray, states=None):
        """Run the units ids [batch, time >= 1] through the LSTM cells from `states` (zeros
        if None); returns (logits of the next unit [batch, vocab] as NumPy, new states)."""
        ids = numpy.asarray(ids, dtype="int32")
        if ids.ndim != 2 or ids.shape[1] < 1:
            raise ValueError(f"feed() needs unit ids of shape [batch, time >= 1], got {ids.shape}.")
        if not tensorflow_usable():
            raise RuntimeError(
                "Text generation cannot run in a process forked after TensorFlow started; "
                "generate in the main process."
            )
        if states is None:
            states = self.initial_states(ids.shape[0])
        logits, states = self._compiled_fn("feed")(tf.convert_to_tensor(ids), states)
        return logits.numpy(), states

    def step(self, ids: numpy.ndarray, states):
        """One LSTM step for ids [batch]: (next-unit logits [batch, vocab], new states)."""
        step = self._compiled.get("step_concrete")
        if step is None:  # a concrete function: less per-call dispatch than the tf.function
            state_spec = tf.nest.map_structure(lambda s: tf.TensorSpec([None, s.shape[1]], tf.float32), states)
            step = self._compiled_fn("step").get_concrete_function(tf.TensorSpec([None], tf.int32), state_spec)
            self._compiled["step_concrete"] = step
        logits, states = step(tf.convert_to_tensor(numpy.asarray(ids, dtype="int32")), states)
        return logits.numpy(), states

    def generate_block(self, logits, states, n_steps: int, *, temperature: float, top_k: Optional[int],
                       top_p: Optional[float], seed: int, start: int, banned_ids=(0, 1)):
        """Sample `n_steps` units for every row in ONE compiled graph call (a loop of: sample
        from the logits in TensorFlow, then one LSTM step with the sampled ids).

        logits: [batch, vocab] next-unit logits (from `feed` or the previous block); states:
        from `feed` / the previous block. seed: int64 key; the unit at position `start + i`
        (counted from the first generated unit) is drawn with the stateless key (seed,
        start + i), so the same seed gives the same units whatever the block sizes.
        Returns (ids [batch, n_steps] int32 NumPy, logits after the last id, new states).
        """
        if not tensorflow_usable():
            raise RuntimeError(
                "Text generation cannot run in a process forked after TensorFlow started; "
                "generate in the main process."
            )
        if int(n_steps) < 1:
            raise ValueError(f"generate_block() needs n_steps >= 1, got {n_steps!r}.")
        fn = self._compiled.get("generate_block_concrete")
        if fn is None:  # one concrete function for all settings: nothing here ever retraces
            vocab = self.network.get_layer("logits").units
            state_spec = tf.nest.map_structure(lambda s: tf.TensorSpec([None, s.shape[1]], tf.float32), states)
            fn = tf.function(self._generate_block).get_concrete_function(
                tf.TensorSpec([None, vocab], tf.float32), state_spec, tf.TensorSpec([], tf.int32),
                tf.TensorSpec([], tf.float64), tf.TensorSpec([], tf.int32), tf.TensorSpec([], tf.float64),
                tf.TensorSpec([None], tf.int32), tf.TensorSpec([], tf.int64), tf.TensorSpec([], tf.int64),
            )
            self._compiled["generate_block_concrete"] = fn
        ids, logits, states = fn(
            tf.convert_to_tensor(logits, tf.float32), states, tf.constant(n_steps, tf.int32),
            *_sampler_args(temperature, top_k, top_p, banned_ids),
            tf.constant(int(seed), tf.int64), tf.constant(int(start), tf.int64),
        )
        return ids.numpy(), logits, states

    GENERATE_UNROLL = 4  # (sample, LSTM step) pairs per graph-loop iteration: less loop overhead

    def _generate_block(self, logits, states, n_steps, temperature, top_k, top_p, banned_ids, seed, start):
        _, sample = make_tf_sampler(tf.shape(logits)[1], temperature, top_k, top_p, banned_ids)
        out = tf.TensorArray(tf.int32, size=n_steps)

        def one_step(i, logits, states, out):
            ids = sample(logits, tf.stack([seed, start + tf.cast(i, tf.int64)]))
            logits, states = self._cell_step(ids, states)
            return logits, states, out.write(i, ids)

        unroll = self.GENERATE_UNROLL
        for j in tf.range(n_steps // unroll):
            for u in range(unroll):
                logits, states, out = one_step(j * unroll + u, logits, states, out)
        for i in tf.range(n_steps - n_steps % unroll, n_steps):
            logits, states, out = one_step(i, logits, states, out)
        return tf.transpose(out.stack()), logits, states

    def _cell_step(self, ids, states):
        network = self.network
        x = tf.gather(network.get_layer("embedding").embeddings, ids)
        new_states = []
        for i in range(self.cfg["depth"]):
            x, (h, c) = network.get_layer(f"lstm_{i}").cell(x, list(states[i]), training=False)
            new_states.append((h, c))
        return network.get_layer("logits")(x), tuple(new_states)

    def _step(self, ids, states):
        return self._cell_step(ids, states)

    def _feed(self, ids, states):
        logits, states = self._cell_step(ids[:, 0], states)
        for t in tf.range(1, tf.shape(ids)[1]):
            logits, states = self._cell_step(ids[:, t], states)
        return logits, states

    def copy(self) -> "LanguageModelShim":
        clone = LanguageModelShim(self._build_network, depth=self.cfg["depth"], numpy_forward=self._numpy_forward)
        if self.has_weights:
            clone.set_weights(self.get_weights())
        return clone
