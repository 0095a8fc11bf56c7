"""The NumPy twins of the networks in networks.py, at inference time.

Used where TensorFlow cannot run: worker processes that spaCy forks for
`nlp.pipe(n_process=...)` after TensorFlow started in the parent. The arithmetic follows
Keras 3 exactly (gate order i, f, c, o; sigmoid recurrent activation; masked steps keep the
previous state), and tests compare it with the Keras network.
"""
from typing import Dict, Tuple

import numpy

Weights = Dict[str, numpy.ndarray]


def sigmoid(x: numpy.ndarray) -> numpy.ndarray:
    return 0.5 * (numpy.tanh(0.5 * x) + 1.0)


def softmax(x: numpy.ndarray, axis: int = -1) -> numpy.ndarray:
    e = numpy.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def lstm(
    x: numpy.ndarray,
    mask: numpy.ndarray,
    kernel: numpy.ndarray,
    recurrent_kernel: numpy.ndarray,
    bias: numpy.ndarray,
    *,
    reverse: bool = False,
) -> Tuple[numpy.ndarray, numpy.ndarray]:
    """One LSTM layer over (batch, time, features); returns (sequence outputs, last state)."""
    batch, steps, _ = x.shape
    units = recurrent_kernel.shape[0]
    projected = x @ kernel + bias
    h = numpy.zeros((batch, units), dtype=x.dtype)
    c = numpy.zeros((batch, units), dtype=x.dtype)
    outputs = numpy.zeros((batch, steps, units), dtype=x.dtype)
    for t in range(steps - 1, -1, -1) if reverse else range(steps):
        z = projected[:, t] + h @ recurrent_kernel
        i = sigmoid(z[:, :units])
        f = sigmoid(z[:, units : 2 * units])
        g = numpy.tanh(z[:, 2 * units : 3 * units])
        o = sigmoid(z[:, 3 * units :])
        keep = mask[:, t : t + 1]
        c = numpy.where(keep, f * c + i * g, c)
        h = numpy.where(keep, o * numpy.tanh(c), h)
        outputs[:, t] = h
    return outputs, h


def _lstm_layer(weights: Weights, prefix: str, x, mask, reverse=False):
    return lstm(
        x,
        mask,
        weights[f"{prefix}/lstm_cell/kernel"],
        weights[f"{prefix}/lstm_cell/recurrent_kernel"],
        weights[f"{prefix}/lstm_cell/bias"],
        reverse=reverse,
    )


def recurrent_stack(weights: Weights, x, mask, *, depth: int, bidirectional: bool):
    """Mirror of networks.recurrent_stack: (sequence outputs, concatenated last states)."""
    last = None
    for i in range(depth):
        if bidirectional:
            fwd_seq, fwd_last = _lstm_layer(weights, f"bilstm_{i}/forward_lstm_{i}", x, mask)
            bwd_seq, bwd_last = _lstm_layer(weights, f"bilstm_{i}/backward_lstm_{i}", x, mask, reverse=True)
            x = numpy.concatenate([fwd_seq, bwd_seq], axis=-1)
            last = numpy.concatenate([fwd_last, bwd_last], axis=-1)
        else:
            x, last = _lstm_layer(weights, f"lstm_{i}", x, mask)
    return x, last


def text_classifier(weights: Weights, inputs, cfg: dict) -> numpy.ndarray:
    """Logits of networks.build_text_classifier for right-padded ids (0 = padding): `inputs`
    is the token id matrix, or (token ids, n-gram ids) for the wide-and-deep network."""
    token_ids, ngram_ids = inputs if isinstance(inputs, (tuple, list)) else (inputs, None)
    mask = token_ids != 0
    x = weights["embedding/embeddings"][token_ids]
    seq, last = recurrent_stack(weights, x, mask, depth=cfg["lstm_depth"], bidirectional=cfg["bidirectional"])
    pooling = cfg["pooling"]
    m = mask[:, :, None]
    if pooling == "last":
        pooled = last
    else:
        parts = []
        if pooling in ("max", "max_mean"):
            parts.append(numpy.where(m, seq, -1e9).max(axis=1))
        if pooling in ("mean", "max_mean"):
            parts.append((seq * m).sum(axis=1) / numpy.maximum(m.sum(axis=1), 1.0))
        if pooling == "attention":
            hidden = numpy.tanh(seq @ weights["attention_pool/w"] + weights["attention_pool/b"])
            scores = (hidden @ weights["attention_pool/v"])[..., 0]
            attn = softmax(numpy.where(mask, scores, -1e9), axis=-1)
            parts.append((seq * attn[:, :, None]).sum(axis=1))
        pooled = numpy.concatenate(parts, axis=-1)
    if cfg["hidden_width"]:
        pooled = numpy.maximum(pooled @ weights["hidden/kernel"] + weights["hidden/bias"], 0.0)
    logits = pooled @ weights["logits/kernel"] + weights["logits/bias"]
    if ngram_ids is not None:
        bow = weights["bow_weights/embeddings"][ngram_ids] * (ngram_ids != 0)[:, :, None]
        logits = logits + bow.sum(axis=1)
    return logits


def language_model(weights: Weights, unit_ids: numpy.ndarray, depth: int) -> numpy.ndarray:
    """Logits [batch, time, vocab] of networks.build_language_model (no mask: every step runs)."""
    x = weights["embedding/embeddings"][unit_ids]
    mask = numpy.ones(unit_ids.shape, dtype=bool)
    for i in range(depth):
        x, _ = _lstm_layer(weights, f"lstm_{i}", x, mask)
    return x @ weights["logits/kernel"] + weights["logits/bias"]
