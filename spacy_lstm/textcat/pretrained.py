"""Initialising `lstm_textcat` from a trained `lstm_generator` language model (Dai & Le, 2015;
ULMFiT, Howard & Ruder, 2018): the classifier takes the language model's unit table, its
embedding and its LSTM stack, and learns its output layer (and fine-tunes the rest) on the
labelled data.

The two read text the same way when the language model is token level with the classifier's
token attribute as its unit (LSTMGenerator.v2 `level = "token"`, `attr = "LOWER"`): its unit
table *is* a token table, id for id. The classifier's LSTM must be forward-only, as the
language model's is, with the same width, depth and embedding width; every mismatch is an
error that names the setting to change. Nothing from the model directory runs: it is loaded
as any spaCy pipeline, whose weights are plain arrays.
"""
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Union

import numpy

from ..model_attrs import TokenTable, get_shim


@dataclass
class LanguageModelWeights:
    """What a classifier takes from a language model: where it came from, its unit table,
    its settings and its weights by Keras variable path."""

    path: str
    table: TokenTable
    settings: dict
    weights: Dict[str, numpy.ndarray]


def load_language_model(path: Union[str, Path]) -> LanguageModelWeights:
    """The first lstm_generator of the pipeline at `path` (a pipeline folder such as
    training/lm/model-best, or its lstm_generator subfolder)."""
    import spacy

    path = Path(path)
    if not path.exists():
        raise ValueError(
            f"language_model = {str(path)!r} does not exist. Point it at a trained lstm_generator "
            "pipeline, e.g. training/lm/model-best (spacy train configs/pretrain_lm.cfg ... -o training/lm)."
        )
    if not (path / "config.cfg").is_file() and (path.parent / "config.cfg").is_file():
        path = path.parent  # the component's folder inside a pipeline
    if not (path / "config.cfg").is_file():
        raise ValueError(
            f"language_model = {str(path)!r} is not a spaCy pipeline (it has no config.cfg). Point it "
            "at a pipeline folder written by spacy train, e.g. training/lm/model-best."
        )
    nlp = spacy.load(path)
    for name, pipe in nlp.pipeline:
        model = getattr(pipe, "model", None)
        if model is not None and model.name == "lstm_generator":
            return LanguageModelWeights(
                str(path), model.attrs["unit_table"], dict(model.attrs["cfg"]), get_shim(model).get_weights()
            )
    raise ValueError(
        f"The pipeline at {str(path)!r} has no lstm_generator component (it has: {', '.join(nlp.pipe_names) or 'none'}). "
        "Train one with configs/pretrain_lm.cfg."
    )


def check_compatible(lm: LanguageModelWeights, cfg: dict, embedding_dim: int) -> None:
    """Errors that name the setting to change when the classifier cannot take these weights."""
    fix = "in the classifier's [components.*.model] (or train the language model to match)"
    if lm.settings["level"] != "token":
        raise ValueError(
            f"The language model at {lm.path} is character level; a classifier reads tokens. Train a "
            'token-level one: [components.lstm_generator.model] level = "token" and attr = "'
            f'{cfg["attr"]}" (configs/pretrain_lm.cfg).'
        )
    if (lm.settings.get("attr") or "").upper() != cfg["attr"].upper():
        raise ValueError(
            f"The language model at {lm.path} reads tokens as {lm.settings.get('attr') or 'text with whitespace'}, "
            f'the classifier as {cfg["attr"]}: the units must be the same. Set the language model\'s '
            f'[components.lstm_generator.model] attr = "{cfg["attr"]}" (LSTMGenerator.v2) and retrain it.'
        )
    if cfg["bidirectional"]:
        raise ValueError(
            f"The language model at {lm.path} reads left to right, so it can initialise a forward LSTM only: "
            f"set bidirectional = false {fix}."
        )
    for setting, ours in (("embedding_dim", embedding_dim), ("lstm_width", cfg["lstm_width"]), ("lstm_depth", cfg["lstm_depth"])):
        if lm.settings[setting] != ours:
            raise ValueError(
                f"The language model at {lm.path} has {setting} = {lm.settings[setting]}, the classifier "
                f"{setting} = {ours}: set {setting} = {lm.settings[setting]} {fix}."
            )


def extended_table(lm: LanguageModelWeights, own: TokenTable, max_vocab: int) -> TokenTable:
    """The language model's table, then the classifier's own most frequent tokens that it lacks
    (up to max_vocab in all, never fewer than the language model has): training text the
    language model never saw still gets rows of its own."""
    known = set(lm.table.tokens)
    extra = [token for token in own.tokens[2:] if token not in known]
    room = max(0, max_vocab - len(lm.table))
    return TokenTable(list(lm.table.tokens) + extra[:room])


def with_pretrained(weights: Dict[str, numpy.ndarray], lm: LanguageModelWeights, depth: int) -> Dict[str, numpy.ndarray]:
    """The classifier's fresh weights with the language model's embedding (its rows first;
    rows of tokens it lacks start at the mean of its rows) and LSTM stack copied in."""
    weights = dict(weights)
    lm_embedding = lm.weights["embedding/embeddings"]
    embedding = weights["embedding/embeddings"].copy()
    embedding[: len(lm_embedding)] = lm_embedding
    embedding[len(lm_embedding):] = lm_embedding[2:].mean(axis=0)
    embedding[0] = 0.0
    weights["embedding/embeddings"] = embedding
    for path in pretrained_paths(depth):
        if weights[path].shape != lm.weights[path].shape:  # checked settings make this an internal error
            raise ValueError(f"Weights {path}: {lm.weights[path].shape} in the language model, {weights[path].shape} here.")
        weights[path] = lm.weights[path].copy()
    return weights


def pretrained_paths(depth: int) -> List[str]:
    """The Keras variable paths of a forward LSTM stack (the same in both networks)."""
    return [f"lstm_{i}/lstm_cell/{part}" for i in range(depth) for part in ("kernel", "recurrent_kernel", "bias")]


def is_encoder(path: str) -> bool:
    """Whether a variable belongs to the part a language model can initialise (the embedding
    and the LSTM stack) rather than to the classifier's head."""
    return path.startswith(("embedding/", "lstm_", "bilstm_"))


__all__ = ["LanguageModelWeights", "load_language_model", "check_compatible", "extended_table", "with_pretrained", "is_encoder"]
