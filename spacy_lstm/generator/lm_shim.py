"""The shim behind `lstm_generator`: a KerasShim for keras.networks.build_language_model with
what a language model needs on top.

* `nll(inputs, targets)`: negative log-likelihood (nats) of every target unit, computed in the
  graph so the [batch, time, vocab] probabilities never reach NumPy.
* `feed(ids, states)` / `generate_block(logits, states, n_steps, ...)`: stateful generation.
  Compiled graphs call the trained LSTM cells directly with explicit (h, c) states: the prompt
  is fed once (a graph loop over its units), then `generate_block` samples (in TensorFlow,
  sampling.make_graph_sampler) and steps the cells `n_steps` times for the whole batch of
  samples in ONE call; only the sampled ids come back to NumPy. States and logits stay
  TensorFlow tensors between blocks.
* `stream_nll(inputs, targets, states)` and `update_streams(...)`: scoring and truncated
  backpropagation through time, with the LSTM states carried from one window to the next
  (the layers are called with `initial_state`, the same weights as the plain network).
"""
from typing import Optional

import numpy

from ..keras import fork
from ..keras.backend import keras, tf
from ..keras.shim import KerasShim, as_tensors
from .sampling import graph_sampler_args, make_graph_sampler

# (sample, LSTM step) pairs per graph-loop iteration: fewer loop iterations, same result.
GENERATE_UNROLL = 4


class LanguageModelShim(KerasShim):
    """See the module docstring. The network's layers are found by the names
    build_language_model gives them: "embedding", "lstm_0".."lstm_{depth-1}", "logits"."""

    def __init__(self, build_network, *, loss: str = "sparse_crossentropy", activation: str = "softmax", **kwargs):
        super().__init__(build_network, loss=loss, activation=activation, **kwargs)

    _OPTIMIZER_GRAPHS = KerasShim._OPTIMIZER_GRAPHS + ("_stream_train_step_graph",)

    def _lstm_layers(self):
        return [layer for layer in self.network.layers if isinstance(layer, keras.layers.LSTM)]

    def _reset_training_state(self) -> None:
        super()._reset_training_state()
        self._train_states = None  # the rows' carried states between stateful updates
        self._pending_streams = []

    # -- carried states ---------------------------------------------------------------------

    def _run_with_states(self, inputs, states, training: bool):
        """The network's layers one by one, each LSTM from its carried (h, c): (logits
        [batch, time, vocab], the states after the last step)."""
        network = self.network
        names = {layer.name for layer in network.layers}
        x = network.get_layer("embedding")(inputs)
        new_states = []
        for lstm, (h, c) in zip(self._lstm_layers(), states):
            x, h, c = lstm(x, initial_state=[h, c], training=training)
            new_states.append(_float32(h, c))
            if f"{lstm.name}_dropout" in names:
                x = network.get_layer(f"{lstm.name}_dropout")(x, training=training)
        return network.get_layer("logits")(x), tuple(new_states)

    def stream_nll(self, inputs: numpy.ndarray, targets: numpy.ndarray, states=None):
        """nll (as `nll`) of one window per row, starting from `states` (zeros if None):
        (nll [batch, time] NumPy, the states after the window, to pass with the next one)."""
        fork.require_tensorflow("Scoring with carried states")
        if states is None:
            states = self.initial_states(len(inputs))
        nll, states = self._graph(self._stream_nll_graph)(
            tf.convert_to_tensor(inputs, tf.int32), tf.convert_to_tensor(targets, tf.int32), states
        )
        return nll.numpy(), states

    def _stream_nll_graph(self, inputs, targets, states):
        logits, states = self._run_with_states(inputs, states, training=False)
        return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=targets, logits=logits), states

    def update_streams(self, inputs, targets, weights, keep, optimizer, *, on_loss) -> None:
        """Truncated backpropagation through time: inputs / targets / weights are [windows,
        rows, time], row r's windows consecutive pieces of one text; `keep` [rows] says which
        rows continue the text of the same row in the previous call (their states carry
        over; the others start from zeros, as do all when the number of rows changed). One
        optimizer step per window, as `update` does (now, or at `finish_update`)."""
        self._pending_streams.append((inputs, targets, weights, keep, on_loss))
        if optimizer:
            self.finish_update(optimizer)

    def finish_update(self, optimizer) -> None:
        pending, self._pending_streams = self._pending_streams, []
        for batch in pending:
            self._train_streams(*batch, optimizer)
        super().finish_update(optimizer)

    def _train_streams(self, inputs, targets, weights, keep, on_loss, optimizer) -> None:
        rows = inputs.shape[1]
        states = self._train_states
        if states is None or int(states[0][0].shape[0]) != rows:
            states, keep = self.initial_states(rows), numpy.zeros(rows)
        states = _select_rows(numpy.asarray(keep, bool), states, None)
        for window in range(len(inputs)):
            full = weights[window].all(axis=1)
            empty = ~weights[window].any(axis=1)
            if empty.all():
                continue
            self._sync_optimizer(optimizer)
            loss, new_states = self._graph(self._stream_train_step_graph)(
                tf.convert_to_tensor(inputs[window], tf.int32), tf.convert_to_tensor(targets[window], tf.int32),
                tf.convert_to_tensor(weights[window], tf.float32), states,
            )
            self._stepped()
            on_loss(float(loss))
            # A full window's row carries its new state; a row without text in this window
            # keeps its state; a row whose text ended inside it (padding ran) starts afresh.
            states = _select_rows(full, new_states, _select_rows(empty, states, None))
        self._train_states = states

    def _stream_train_step_graph(self, inputs, targets, weights, states):
        with tf.GradientTape() as tape:
            logits, new_states = self._run_with_states(inputs, states, training=True)
            loss = self._loss(targets, logits, weights)
        variables = self.network.trainable_variables
        self._optimizer.apply(tape.gradient(loss, variables), variables)
        return loss, new_states

    # -- scoring ----------------------------------------------------------------------------

    def nll(self, inputs: numpy.ndarray, targets: numpy.ndarray) -> numpy.ndarray:
        """[batch, time] negative log-likelihood in nats of targets[b, t] after inputs[b, :t+1]."""
        if not fork.tensorflow_usable():
            logits = self.numpy_logits(inputs).astype("float64")
            logits -= logits.max(axis=-1, keepdims=True)
            log_z = numpy.log(numpy.exp(logits).sum(axis=-1))
            picked = numpy.take_along_axis(logits, targets[..., None].astype("int64"), axis=-1)[..., 0]
            return (log_z - picked).astype("float32")
        return self._graph(self._nll_graph)(as_tensors(inputs), tf.convert_to_tensor(targets)).numpy()

    def _nll_graph(self, inputs, targets):
        logits = self.network(inputs, training=False)
        return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=targets, logits=logits)

    # -- stateful generation ----------------------------------------------------------------

    def initial_states(self, batch_size: int):
        lstms = self._lstm_layers()
        zeros = tf.zeros((batch_size, lstms[0].cell.units), dtype="float32")
        return tuple((zeros, zeros) for _ in lstms)

    def feed(self, ids: numpy.ndarray, states=None):
        """Run the units ids [batch, time >= 1] through the LSTM cells from `states` (zeros
        if None); returns (logits of the next unit [batch, vocab] as NumPy, new states)."""
        ids = numpy.asarray(ids, dtype="int32")
        if ids.ndim != 2 or ids.shape[1] < 1:
            raise ValueError(f"feed() needs unit ids of shape [batch, time >= 1], got {ids.shape}.")
        fork.require_tensorflow("Text generation")
        if states is None:
            states = self.initial_states(ids.shape[0])
        logits, states = self._graph(self._feed_graph)(tf.convert_to_tensor(ids), states)
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
        fork.require_tensorflow("Text generation")
        if int(n_steps) < 1:
            raise ValueError(f"generate_block() needs n_steps >= 1, got {n_steps!r}.")
        vocab = self.network.get_layer("logits").units
        state_spec = tf.nest.map_structure(lambda s: tf.TensorSpec([None, s.shape[1]], tf.float32), states)
        # One input signature for all settings: changing them never retraces the graph.
        signature = [
            tf.TensorSpec([None, vocab], tf.float32), state_spec, tf.TensorSpec([], tf.int32),
            tf.TensorSpec([], tf.float64), tf.TensorSpec([], tf.int32), tf.TensorSpec([], tf.float64),
            tf.TensorSpec([None], tf.int32), tf.TensorSpec([], tf.int64), tf.TensorSpec([], tf.int64),
        ]
        ids, logits, states = self._graph(self._generate_block_graph, input_signature=signature)(
            tf.convert_to_tensor(logits, tf.float32), states, tf.constant(n_steps, tf.int32),
            *graph_sampler_args(temperature, top_k, top_p, banned_ids),
            tf.constant(int(seed), tf.int64), tf.constant(int(start), tf.int64),
        )
        return ids.numpy(), logits, states

    def _generate_block_graph(self, logits, states, n_steps, temperature, top_k, top_p, banned_ids, seed, start):
        _, sample = make_graph_sampler(tf.shape(logits)[1], temperature, top_k, top_p, banned_ids)
        out = tf.TensorArray(tf.int32, size=n_steps)

        def one_step(i, logits, states, out):
            ids = sample(logits, tf.stack([seed, start + tf.cast(i, tf.int64)]))
            logits, states = self._cell_step(ids, states)
            return logits, states, out.write(i, ids)

        for j in tf.range(n_steps // GENERATE_UNROLL):
            for u in range(GENERATE_UNROLL):
                logits, states, out = one_step(j * GENERATE_UNROLL + u, logits, states, out)
        for i in tf.range(n_steps - n_steps % GENERATE_UNROLL, n_steps):
            logits, states, out = one_step(i, logits, states, out)
        return tf.transpose(out.stack()), logits, states

    def _feed_graph(self, ids, states):
        logits, states = self._cell_step(ids[:, 0], states)
        for t in tf.range(1, tf.shape(ids)[1]):
            logits, states = self._cell_step(ids[:, t], states)
        return logits, states

    def _cell_step(self, ids, states):
        """One LSTM step for the unit ids [batch]: (next-unit logits, new states)."""
        network = self.network
        x = tf.gather(network.get_layer("embedding").embeddings, ids)
        new_states = []
        for lstm, (h, c) in zip(self._lstm_layers(), states):
            x, (h, c) = lstm.cell(x, [h, c], training=False)
            new_states.append(_float32(h, c))
        return network.get_layer("logits")(x), tuple(new_states)


def _float32(h, c):
    """Carried states are float32 whatever the layers compute in (keras/precision.py)."""
    return tf.cast(h, tf.float32), tf.cast(c, tf.float32)


def _select_rows(rows: numpy.ndarray, states, otherwise):
    """`states` for the rows where `rows` is True, `otherwise` (or zeros, if None) elsewhere."""
    mask = tf.constant(numpy.asarray(rows, bool)[:, None])
    if otherwise is None:
        otherwise = tf.nest.map_structure(tf.zeros_like, states)
    return tf.nest.map_structure(lambda a, b: tf.where(mask, a, b), states, otherwise)
