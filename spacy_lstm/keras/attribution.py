"""Token attributions for the text classifier of networks.py: integrated gradients
(Sundararajan et al., 2017) on the Embedding output, in one compiled graph.

The path from the baseline (every real position holding the padding row of the Embedding)
to the document's embeddings is integrated with Gauss-Legendre quadrature: the nodes become a
batch dimension, so a whole length bucket of documents and all its nodes are one forward and
one backward pass. Gauss-Legendre is exact for polynomials of degree 2n-1 along the path, so a
few nodes reach the completeness a Riemann sum needs many more steps for (benchmarks/explain.py
measures it).

Only the LSTM path is integrated: the n-gram path of a wide-and-deep network is linear in its
inputs, so its contribution is exact and is computed outside (textcat/explain.py); here it
arrives as fixed logit offsets that only decide which label is explained.
"""
import weakref
from typing import Dict, Optional, Tuple

import numpy

from .backend import keras, tf

ops = keras.ops

# Positions (nodes x documents x tokens) per graph call: bounds the memory that the backward
# pass through the LSTM keeps (about 2 KB per position with 128 units each way).
POSITIONS_PER_CALL = 1 << 16
NODES_PER_SEGMENT = 4

_ATTRIBUTORS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def quadrature(steps: int) -> Tuple[numpy.ndarray, numpy.ndarray]:
    """(nodes, weights) on [0, 1]: Gauss-Legendre with `steps` nodes up to NODES_PER_SEGMENT,
    beyond that composite (equal segments of NODES_PER_SEGMENT nodes each), whose evenly
    spread nodes resolve the steep stretches a saturated LSTM has along some paths."""
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
        raise ValueError(f"steps must be an integer >= 1 (quadrature nodes along the path), got {steps!r}.")
    per_segment = min(steps, NODES_PER_SEGMENT)
    segments = -(-steps // per_segment)
    nodes, weights = numpy.polynomial.legendre.leggauss(per_segment)
    starts = numpy.arange(segments)[:, None] / segments
    nodes = (starts + (nodes[None] + 1.0) / (2.0 * segments)).ravel()
    weights = numpy.tile(weights / (2.0 * segments), segments)
    return nodes.astype("float32"), weights.astype("float32")


def _layer(network: "keras.Model", name: str):
    try:
        return network.get_layer(name)
    except ValueError:
        return None


def recurrent_states(network: "keras.Model", embedded, mask):
    """The output of the recurrent stack (networks.recurrent_stack) for embedding outputs."""
    x, depth = embedded, 0
    while True:
        recurrent = _layer(network, f"bilstm_{depth}") or _layer(network, f"lstm_{depth}")
        if recurrent is None:
            return x
        x = recurrent(x, mask=mask)
        depth += 1


def lstm_path_logits(network: "keras.Model", embedded, mask):
    """The LSTM path's logits (without the n-gram path) from embedding outputs [batch, time,
    dim] and the real-token mask [batch, time]: the layers of build_text_classifier after the
    Embedding, called by name, at inference (no dropout)."""
    x = recurrent_states(network, embedded, mask)
    if _layer(network, "attention_pool") is not None:
        x = network.get_layer("attention_pool")(x, mask=mask)
    elif _layer(network, "max_mean_pool") is not None:
        x = ops.concatenate(
            [network.get_layer("max_pool")(x, mask=mask), network.get_layer("mean_pool")(x, mask=mask)], axis=-1
        )
    elif _layer(network, "max_pool") is not None:
        x = network.get_layer("max_pool")(x, mask=mask)
    elif _layer(network, "mean_pool") is not None:
        x = network.get_layer("mean_pool")(x, mask=mask)
    if _layer(network, "hidden") is not None:
        x = network.get_layer("hidden")(x)
    return network.get_layer("logits")(x)


class Attributor:
    """Integrated gradients for one Keras text classifier (use `attributor_for`).

    exclusive: softmax classes. The explained quantity is linear in the logits, so that the
    n-gram path's part is exact: a multilabel label's own logit; for exclusive classes the
    label's logit minus the mean logit of the other labels (the log-odds for two labels),
    which is what the softmax depends on.
    """

    def __init__(self, network: "keras.Model", *, exclusive: bool):
        self.network = network
        self.exclusive = exclusive
        self.n_labels = int(network.get_layer("logits").units)
        spec = [
            tf.TensorSpec([None, None], tf.int32),  # token ids
            tf.TensorSpec([None, self.n_labels], tf.float32),  # logit offsets (n-gram path)
            tf.TensorSpec([None], tf.int32),  # label to explain per doc, -1 = top label
            tf.TensorSpec([None], tf.float32),  # quadrature nodes
            tf.TensorSpec([None], tf.float32),  # quadrature weights
        ]
        self._integrated = tf.function(self._integrated_gradients, input_signature=spec)
        self._attention = None

    def ngram_table(self) -> Optional[numpy.ndarray]:
        """The n-gram path's weights [buckets, labels], or None for a pure LSTM."""
        layer = _layer(self.network, "bow_weights")
        return None if layer is None else numpy.asarray(layer.embeddings.numpy())

    def margin_coefficients(self, label):
        """[batch, labels] coefficients of the explained quantity (see the class docstring)."""
        onehot = tf.one_hot(label, self.n_labels, dtype=tf.float32)
        if not self.exclusive or self.n_labels < 2:
            return onehot
        others = 1.0 / (self.n_labels - 1)
        return onehot * (1.0 + others) - others

    def _integrated_gradients(self, token_ids, offsets, label, nodes, weights):
        embedding = self.network.get_layer("embedding")
        mask = ops.not_equal(token_ids, 0)
        x = embedding(token_ids)
        baseline = ops.broadcast_to(embedding.embeddings[0], ops.shape(x))
        doc_logits = lstm_path_logits(self.network, x, mask)
        # The baseline depends on a doc's length only: one row per distinct length.
        lengths, length_of_row = tf.unique(ops.sum(ops.cast(mask, "int32"), axis=1))
        base_mask = ops.arange(ops.shape(x)[1])[None, :] < lengths[:, None]
        base_logits = lstm_path_logits(self.network, baseline[: ops.shape(lengths)[0]], base_mask)
        base_logits = ops.take(base_logits, length_of_row, axis=0)
        logits = doc_logits + offsets
        label = ops.where(label < 0, ops.cast(ops.argmax(logits, axis=-1), "int32"), label)
        coef = self.margin_coefficients(label)
        n_nodes, shape = ops.shape(nodes)[0], ops.shape(x)
        delta = x - baseline
        path = ops.reshape(baseline[None] + nodes[:, None, None, None] * delta[None], (-1, shape[1], shape[2]))
        with tf.GradientTape() as tape:
            tape.watch(path)
            path_logits = lstm_path_logits(self.network, path, ops.tile(mask, (n_nodes, 1)))
            path_logits = ops.reshape(path_logits, (n_nodes, -1, self.n_labels))
            target = ops.sum(path_logits * coef[None] * weights[:, None, None])
        grads = ops.sum(ops.reshape(tape.gradient(target, path), (n_nodes, shape[0], shape[1], shape[2])), axis=0)
        attributions = ops.sum(grads * delta, axis=-1) * ops.cast(mask, "float32")
        return (
            attributions,
            label,
            logits,
            ops.sum(doc_logits * coef, axis=-1),
            ops.sum(base_logits * coef, axis=-1),
        )

    def integrated_gradients(self, token_ids, offsets, labels, steps: int) -> Dict[str, numpy.ndarray]:
        """Attributions for a padded batch: token_ids [batch, time] (0 = padding), offsets
        [batch, labels] (the n-gram path's logits), labels [batch] (-1: the top label).

        Returns arrays: attributions [batch, time], label [batch], logits [batch, labels]
        (both paths), lstm_margin and baseline_margin [batch]: the explained quantity of the
        LSTM path at the document and at the baseline (completeness: the attributions of a
        row sum to their difference, up to the quadrature error)."""
        return self._run(token_ids, offsets, labels, *quadrature(steps))

    def gradient_x_input(self, token_ids, offsets, labels) -> Dict[str, numpy.ndarray]:
        """Like integrated_gradients, but each position's gradient at the document itself
        times its difference from the baseline: the cheaper, unfaithful method IG corrects
        (benchmarks/explain.py compares them)."""
        one = numpy.ones(1, dtype="float32")
        return self._run(token_ids, offsets, labels, one, one)

    def _run(self, token_ids, offsets, labels, nodes, weights) -> Dict[str, numpy.ndarray]:
        token_ids = numpy.asarray(token_ids, dtype="int32")
        per_call = max(1, POSITIONS_PER_CALL // (len(nodes) * max(1, token_ids.shape[1])))
        parts = []
        for start in range(0, len(token_ids), per_call):
            rows = slice(start, start + per_call)
            out = self._integrated(
                tf.constant(token_ids[rows]),
                tf.constant(numpy.asarray(offsets[rows], dtype="float32")),
                tf.constant(numpy.asarray(labels[rows], dtype="int32")),
                tf.constant(nodes),
                tf.constant(weights),
            )
            parts.append([numpy.asarray(t) for t in out])
        names = ("attributions", "label", "logits", "lstm_margin", "baseline_margin")
        return {name: numpy.concatenate([p[i] for p in parts]) for i, name in enumerate(names)}

    def attention_weights(self, token_ids) -> numpy.ndarray:
        """[batch, time] weights of the attention pooling (networks.AttentionPooling); a
        ValueError when the network pools otherwise."""
        layer = _layer(self.network, "attention_pool")
        if layer is None:
            raise ValueError("The network has no attention pooling (pooling = \"attention\"): no attention weights.")
        if self._attention is None:
            self._attention = tf.function(self._attention_graph, input_signature=[tf.TensorSpec([None, None], tf.int32)])
        return self._attention(tf.constant(numpy.asarray(token_ids, dtype="int32"))).numpy()

    def _attention_graph(self, token_ids):
        mask = ops.not_equal(token_ids, 0)
        states = recurrent_states(self.network, self.network.get_layer("embedding")(token_ids), mask)
        return self.network.get_layer("attention_pool").attention_weights(states, mask)


def attributor_for(network: "keras.Model", *, exclusive: bool) -> Attributor:
    """The Attributor of a network, made once (its graphs are traced once per network)."""
    attributor = _ATTRIBUTORS.get(network)
    if attributor is None or attributor.exclusive != exclusive:
        attributor = _ATTRIBUTORS[network] = Attributor(network, exclusive=exclusive)
    return attributor
