"""What the `lstm_textcat` architectures do as thinc Models: build the Keras network from the
settings, initialize (token table, static vectors, the fitted n-gram path of v2), featurise
and run docs, and grow the output layer when labels are added.
"""
import logging
from functools import partial
from typing import List, Optional

import numpy
from spacy.tokens import Doc
from thinc.api import Model

from ..errors import NotInitializedError
from ..keras.numpy_networks import sigmoid, softmax
from ..model_attrs import TokenTable, get_shim
from .featurize import build_token_table, doc_features, doc_ngrams, length_buckets, network_inputs
from .ngram_model import fit_ngram_model, ngram_logits
from .pretrained import extended_table, with_pretrained

logger = logging.getLogger("spacy")


def build_network(model: Model):
    from ..keras.networks import build_text_classifier

    return build_text_classifier(
        **network_settings(model.attrs["cfg"], model.get_dim("nV"), model.get_dim("nO"), model.get_dim("nE"))
    )


def network_settings(cfg: dict, vocab_size: int, n_labels: int, embedding_dim: int, *, ngram_path: Optional[str] = None) -> dict:
    """The keyword arguments of keras/networks.build_text_classifier for these architecture
    settings: the one mapping from config to network (the raw-Keras benchmark builds the same
    network with it). ngram_path overrides how the n-gram weights are learned."""
    return dict(
        vocab_size=vocab_size,
        n_labels=n_labels,
        embedding_dim=embedding_dim,
        lstm_width=cfg["lstm_width"],
        lstm_depth=cfg["lstm_depth"],
        bidirectional=cfg["bidirectional"],
        dropout=cfg["dropout"],
        recurrent_dropout=cfg["recurrent_dropout"],
        pooling=cfg["pooling"],
        attention_width=cfg["attention_width"],
        hidden_width=cfg["hidden_width"],
        trainable_embedding=not (cfg["static_vectors"] and cfg["freeze_vectors"]),
        bow_length=cfg["bow_length"] if cfg["bow_ngram_size"] else 0,
        ngram_path=ngram_path or cfg["ngram_model"],
    )


def numpy_forward_of(cfg: dict, weights, inputs):
    from ..keras.numpy_networks import text_classifier

    return text_classifier(weights, inputs, cfg)


def is_initialized(model: Model) -> bool:
    return model.has_dim("nV") is True and model.has_dim("nO") is True and get_shim(model).has_weights


def textcat_features(model: Model, docs: List[Doc]):
    """The model's per-doc features (featurize.doc_features with its table and settings)."""
    return doc_features(docs, model.attrs["token_table"], model.attrs["cfg"])


def textcat_init(model: Model, X: Optional[List[Doc]] = None, Y=None) -> None:
    """Build the token table from X (all training docs) and the network with random weights;
    v2 also fits its n-gram path on X and Y (the gold values of every doc in X, NaN where a
    label is not annotated).

    With static_vectors, the Embedding rows of tokens in `nlp.vocab.vectors` start from those
    vectors (the way spaCy v2's Keras example did); the other rows start small and random.
    """
    cfg = model.attrs["cfg"]
    if X is None or len(X) == 0:
        raise ValueError(
            "lstm_textcat needs training docs to build its token table: call "
            "nlp.initialize(get_examples) with at least one example."
        )
    if Y is not None and not model.has_dim("nO"):
        model.set_dim("nO", Y.shape[1])
    if not model.has_dim("nO"):
        raise ValueError("lstm_textcat needs its labels before initialize (nO is unset).")
    table = build_token_table(X, cfg["attr"], max_vocab=cfg["max_vocab"], min_freq=cfg["min_freq"])
    language_model = model.attrs["training_state"].pop("language_model", None)
    if language_model is not None:
        table = extended_table(language_model, table, cfg["max_vocab"])
    model.attrs["token_table"] = table
    model.set_dim("nV", len(table), force=True)
    vectors = X[0].vocab.vectors if cfg["static_vectors"] else None
    if cfg["static_vectors"] and (vectors is None or vectors.shape[0] == 0 or vectors.shape[1] == 0):
        raise ValueError(
            "static_vectors = true, but the pipeline has no word vectors. Add them with "
            "`spacy init vectors` and [initialize.vectors], or set static_vectors = false."
        )
    model.set_dim("nE", vectors.shape[1] if vectors is not None else cfg["embedding_dim"], force=True)
    shim = get_shim(model)
    shim.rebuild(partial(build_network, model))
    shim.build()
    weights = shim.get_weights()
    if language_model is not None:
        weights = with_pretrained(weights, language_model, cfg["lstm_depth"])
    if vectors is not None:
        weights = _with_static_vectors(weights, table, X[0].vocab)
    if cfg["ngram_model"] == "fitted" and cfg["bow_ngram_size"]:
        weights = _with_fitted_ngrams(model, weights, X, Y)
    shim.set_weights(weights)


def _with_static_vectors(weights, table: TokenTable, vocab):
    """The fresh weights with the Embedding rows of tokens that have a vector set to it."""
    matrix = weights["embedding/embeddings"]
    for i, token in enumerate(table.tokens[2:], start=2):
        if vocab.has_vector(token):
            matrix[i] = vocab.get_vector(token)
    matrix[0] = 0.0
    return weights


def _with_fitted_ngrams(model: Model, weights, docs: List[Doc], truths) -> dict:
    """Fit the n-gram path (ngram_model.py) and put it in the weights; keep, for training in
    this process, each training text's offset from the fitted path's logits to its
    out-of-fold logits."""
    cfg = model.attrs["cfg"]
    truths = None if truths is None else numpy.asarray(truths, dtype="float64")
    if truths is None or truths.shape != (len(docs), model.get_dim("nO")):
        raise ValueError(
            "lstm_textcat (LSTMTextCat.v2) fits its n-gram path at initialize and needs the "
            "gold categories of every training doc: initialize it through the component "
            "(nlp.initialize(get_examples)), not the model alone."
        )
    ngrams = textcat_features(model, docs)[1]
    fit = fit_ngram_model(
        ngrams, truths, exclusive=cfg["exclusive_classes"], n_buckets=cfg["bow_length"],
        ngram_size=cfg["bow_ngram_size"], char_ngrams=cfg["bow_char_ngrams"], C_values=cfg["bow_C"], weightings=cfg["bow_weightings"],
        n_folds=cfg["bow_folds"],
    )
    weights["bow_weights/embeddings"] = fit.weights
    weights["logits/bias"] = fit.bias
    model.attrs["ngram_choice"] = fit.choice
    model.attrs["ngram_bias"] = [float(b) for b in fit.bias]
    state = model.attrs["training_state"]
    state.pop("held_out_offsets", None)
    if fit.held_out_logits is not None:
        offsets = fit.held_out_logits - ngram_logits(fit.weights, fit.bias, ngrams)
        state["held_out_offsets"] = {hash(doc.text): offset for doc, offset in zip(docs, offsets)}
    logger.info("lstm_textcat: n-gram path fitted: %s", fit.choice)
    return weights


def ngram_path_scores(model: Model, docs: List[Doc]) -> Optional[numpy.ndarray]:
    """The fitted n-gram path's own scores [n_docs, n_labels] (softmax or sigmoid of its
    logits, as the model's), or None when the model has no fitted n-gram path: what the
    model predicted before the LSTM learned anything (textcat/selection.py compares them)."""
    cfg = model.attrs["cfg"]
    bias = model.attrs.get("ngram_bias") or []
    if cfg.get("ngram_model") != "fitted" or not cfg["bow_ngram_size"] or not bias or not is_initialized(model):
        return None
    table = get_shim(model).get_weight("bow_weights/embeddings")
    bias = numpy.pad(numpy.asarray(bias, dtype="float32"), (0, table.shape[1] - len(bias)))  # labels added later
    logits = ngram_logits(table, bias, doc_ngrams(docs, cfg))
    return softmax(logits) if cfg["exclusive_classes"] else sigmoid(logits)


def textcat_training_inputs(model: Model, docs: List[Doc]):
    """(network inputs, logit offsets or None) for training on these docs: a training text
    the n-gram path was fitted on gets the offset from that path's logits to its out-of-fold
    logits, so the LSTM learns the n-gram model's error on unseen text."""
    features = textcat_features(model, docs)
    inputs = network_inputs(features, range(len(docs)))
    table = model.attrs["training_state"].get("held_out_offsets")
    if not table:
        return inputs, None
    zeros = numpy.zeros(model.get_dim("nO"), dtype="float32")
    offsets = numpy.stack([table.get(hash(doc.text), zeros) for doc in docs]).astype("float32")
    return inputs, offsets


def textcat_forward(model: Model, docs: List[Doc], is_train: bool):
    if not is_initialized(model):
        raise NotInitializedError(
            "The lstm_textcat model has not been initialized: train it with `spacy train`, "
            "call nlp.initialize(get_examples) before use, or load a trained pipeline."
        )
    shim = get_shim(model)
    features = textcat_features(model, docs)
    scores = numpy.zeros((len(docs), model.get_dim("nO")), dtype="float32")
    backprops = []
    for idx in length_buckets([len(s) for s in features[0]], model.attrs["cfg"]["batch_size"]):
        inputs = network_inputs(features, idx)
        if is_train:
            scores[idx], bp = shim.begin_update(inputs)
            backprops.append((idx, bp))
        else:
            scores[idx] = shim.predict(inputs)

    def backprop(d_scores):
        d_scores = model.ops.to_numpy(d_scores)
        for idx, bp in backprops:
            bp(d_scores[idx])
        return []

    return model.ops.asarray2f(scores), backprop


def resize_textcat_output(model: Model, new_nO: int) -> Model:
    """Add output labels, keeping what the network learned (new rows start at zero)."""
    if not model.has_dim("nO") or not get_shim(model).has_weights:
        model.set_dim("nO", new_nO, force=True)
        return model
    old_nO = model.get_dim("nO")
    if new_nO == old_nO:
        return model
    if new_nO < old_nO:
        raise ValueError(f"Cannot shrink lstm_textcat's output from {old_nO} to {new_nO} labels.")
    shim = get_shim(model)
    weights = shim.get_weights()
    for path in ("logits/kernel", "logits/bias", "bow_weights/embeddings"):
        if path in weights:  # the label axis is the last one
            old = weights[path]
            grown = numpy.zeros(old.shape[:-1] + (new_nO - old_nO,), dtype=old.dtype)
            weights[path] = numpy.concatenate([old, grown], axis=-1)
    model.set_dim("nO", new_nO, force=True)
    shim.rebuild(partial(build_network, model), weights)
    return model
