"""Explanations for `lstm_textcat` and `lstm_textcat_multilabel`: how much each token moved
the prediction, per document and label.

What is explained is linear in the logits, so the two paths of the network add up exactly:
for a multilabel label, its logit; for exclusive classes, the label's logit minus the mean
logit of the other labels (for two labels: the log-odds). A token's weight is the sum of

* its n-gram part, exact: each n-gram's weight for the label (the frozen or learned weight
  of its hash bucket) shared equally by its tokens, a character n-gram's given to its token
  (v2 counts an n-gram once per doc, so repeated n-grams share that weight too);
* its LSTM part: integrated gradients on the embedding output, from a baseline where every
  token is the padding embedding (keras/attribution.py).

Completeness: a doc's weights sum to margin(doc) - margin(baseline), where the baseline has
padding embeddings and no n-grams. The n-gram part is exact; the LSTM part has a quadrature
error, checked per doc: a doc whose error exceeds `tolerance` (relative to that difference)
is recomputed with four times the steps, up to MAX_STEPS.

Tokens past `max_length` (which the LSTM does not read) get only their n-gram part; the
n-gram path reads up to `bow_max_length` tokens, and tokens beyond that get 0.
"""
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy
from spacy.strings import StringStore
from spacy.tokens import Doc, Token
from thinc.api import Model

from ..model_attrs import get_shim
from .featurize import (
    char_ids, char_positions, doc_hashes, hashes_to_ids, length_buckets, ngram_buckets, pad, truncate, uses_chars,
)

# Gauss-Legendre nodes along the path by default, measured on MR (benchmarks/explain.py): 2
# nodes keep the median completeness error near 0.2% at the best speed, and the docs
# above the tolerance (about 15% on MR) are recomputed with more.
DEFAULT_STEPS = 2
MAX_STEPS = 256
TOLERANCE = 0.05
# Completeness is checked relative to |margin(doc) - margin(baseline)|, but never to less than
# this many logits: near zero a relative error says nothing.
MARGIN_FLOOR = 0.01

EXTENSION = "lstm_explanation"
if not Doc.has_extension(EXTENSION):
    Doc.set_extension(EXTENSION, default=None)


@dataclass
class Explanation:
    """Why a doc got its score for one label: a weight per token (positive: towards the
    label), which is the sum of `lstm_weights` and `ngram_weights`.

    margin / baseline: the explained quantity (see the module docstring) for the doc and for
    the baseline; `weights.sum()` equals their difference up to `completeness_error`
    (relative). `read_by_lstm`: which tokens the LSTM read (the others have only n-gram
    weight). `steps`: quadrature nodes used."""

    doc: Doc
    label: str
    score: float
    weights: numpy.ndarray
    lstm_weights: numpy.ndarray
    ngram_weights: numpy.ndarray
    margin: float
    baseline: float
    completeness_error: float
    steps: int
    read_by_lstm: numpy.ndarray = field(repr=False)

    @property
    def tokens(self) -> List[Token]:
        return list(self.doc)

    def top(self, k: int = 5, *, absolute: bool = False) -> List[Tuple[Token, float]]:
        """The k tokens that pushed most towards the label (`absolute`: most either way)."""
        key = numpy.abs(self.weights) if absolute else self.weights
        order = numpy.argsort(-key, kind="stable")[:k]
        return [(self.doc[int(i)], float(self.weights[i])) for i in order]

    def to_dict(self) -> Dict[str, object]:
        """JSON-ready: the label, score, margins, and per token its text, whether a space
        follows, and its weights."""
        return {
            "label": self.label,
            "score": float(self.score),
            "margin": float(self.margin),
            "baseline": float(self.baseline),
            "completeness_error": float(self.completeness_error),
            "steps": int(self.steps),
            "tokens": [t.text for t in self.doc],
            "spaces": [bool(t.whitespace_) for t in self.doc],
            "weights": [float(w) for w in self.weights],
            "lstm_weights": [float(w) for w in self.lstm_weights],
            "ngram_weights": [float(w) for w in self.ngram_weights],
            "read_by_lstm": [bool(r) for r in self.read_by_lstm],
        }


def ngram_contributions(
    hashes: numpy.ndarray, table: Optional[numpy.ndarray], cfg: dict, n_labels: int, strings: Optional[StringStore] = None
) -> numpy.ndarray:
    """[n_tokens, n_labels]: each token's share of the n-gram path's logits (their column sums
    are the doc's n-gram logits, exactly). A word n-gram's weight is shared by its tokens, a
    character n-gram's goes to the token it came from; v2 counts a bucket once per doc, so
    its occurrences (tokens, for character n-grams) share its weight."""
    out = numpy.zeros((len(hashes), n_labels), dtype="float64")
    if table is None or not len(hashes):
        return out
    positions = truncate(numpy.arange(len(hashes)), cfg["bow_max_length"], cfg["truncation"])
    distinct = cfg.get("ngram_model") == "fitted"
    chars = cfg["bow_char_ngrams"] if uses_chars(cfg) else 0
    buckets = ngram_buckets(hashes[positions], cfg["bow_ngram_size"], cfg["bow_length"], distinct=distinct, char_ngrams=chars)
    # the tokens of each occurrence: order n's k-th n-gram covers positions k..k+n-1
    spans = [[positions[offset : offset + len(ids)] for offset in range(order)] for order, ids in enumerate(buckets, start=1)]
    if chars:
        read = char_positions(positions, cfg)
        per_token = char_ids(hashes[read], cfg, strings)
        buckets.append(numpy.concatenate(per_token) if per_token else numpy.zeros(0, dtype="int32"))
        spans.append([numpy.repeat(read, [len(ids) for ids in per_token])])
    if distinct:  # a bucket counts once per doc: its occurrences share its weight
        _, inverse, counts = numpy.unique(numpy.concatenate(buckets), return_inverse=True, return_counts=True)
        shares = numpy.split(1.0 / counts[inverse], numpy.cumsum([len(b) for b in buckets])[:-1])
    else:
        shares = [numpy.ones(len(b)) for b in buckets]
    for ids, share, span in zip(buckets, shares, spans):
        part = table[ids].astype("float64") * (share / len(span))[:, None]
        for tokens in span:
            numpy.add.at(out, tokens, part)
    return out


def _coefficients(label: int, n_labels: int, exclusive: bool) -> numpy.ndarray:
    """The explained quantity as coefficients of the logits (Attributor.margin_coefficients)."""
    coef = numpy.zeros(n_labels)
    coef[label] = 1.0
    if exclusive and n_labels > 1:
        coef = coef * (1.0 + 1.0 / (n_labels - 1)) - 1.0 / (n_labels - 1)
    return coef


def _scores(logits: numpy.ndarray, exclusive: bool) -> numpy.ndarray:
    logits = logits.astype("float64")
    if exclusive:
        e = numpy.exp(logits - logits.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)
    return 1.0 / (1.0 + numpy.exp(-logits))


def explain_docs(
    model: Model, labels: Sequence[str], docs: Sequence[Doc], *, label: Optional[str] = None,
    steps: int = DEFAULT_STEPS, tolerance: float = TOLERANCE,
) -> List[Explanation]:
    """One Explanation per doc, for `label` or (None) each doc's top label."""
    from ..keras.attribution import attributor_for

    cfg = model.attrs["cfg"]
    labels = list(labels)
    if label is not None and label not in labels:
        raise ValueError(f"Cannot explain label {label!r}: the component's labels are {labels}.")
    if not isinstance(tolerance, (int, float)) or not tolerance > 0:
        raise ValueError(f"tolerance must be a number > 0 (a relative completeness error), got {tolerance!r}.")
    exclusive = cfg["exclusive_classes"]
    attributor = attributor_for(get_shim(model).network, exclusive=exclusive)
    hashes = doc_hashes(docs, cfg["attr"])
    ids = hashes_to_ids(hashes, model.attrs["token_table"], cfg["max_length"], cfg["truncation"])
    table = attributor.ngram_table() if cfg["bow_ngram_size"] else None
    strings = docs[0].vocab.strings if docs else None
    ngram_parts = [ngram_contributions(h, table, cfg, len(labels), strings) for h in hashes]
    offsets = numpy.stack([p.sum(axis=0) for p in ngram_parts]).astype("float32") if docs else None
    wanted = numpy.full(len(docs), -1 if label is None else labels.index(label), dtype="int32")
    results: Dict[int, dict] = {}
    for idx in length_buckets([len(s) for s in ids], cfg["batch_size"]):
        todo, n_steps, chosen = idx, steps, wanted[idx]
        while len(todo):
            out = attributor.integrated_gradients(pad([ids[i] for i in todo]), offsets[todo], chosen, n_steps)
            redo = []
            for row, i in enumerate(todo):
                coef = _coefficients(int(out["label"][row]), len(labels), exclusive)
                ngram_margin = float(ngram_parts[i].sum(axis=0) @ coef)
                lstm_delta = float(out["lstm_margin"][row] - out["baseline_margin"][row])
                gap = abs(float(out["attributions"][row].sum()) - lstm_delta)
                error = gap / max(abs(lstm_delta + ngram_margin), MARGIN_FLOOR) if len(docs[i]) else 0.0
                if error > tolerance and n_steps * 4 <= MAX_STEPS:
                    redo.append(row)
                    continue
                results[i] = dict(
                    row={k: v[row] for k, v in out.items()}, coef=coef, error=error, steps=n_steps,
                    margin=float(out["lstm_margin"][row]) + ngram_margin,
                )
            todo, chosen, n_steps = todo[redo], out["label"][redo].astype("int32"), n_steps * 4
    return [_explanation(docs[i], labels, exclusive, ids[i], ngram_parts[i], results[i], cfg) for i in range(len(docs))]


def _explanation(doc: Doc, labels, exclusive: bool, ids, ngram_part, result: dict, cfg: dict) -> Explanation:
    row = result["row"]
    label = int(row["label"])
    n = len(doc)
    lstm = numpy.zeros(n, dtype="float64")
    read = numpy.zeros(n, dtype=bool)
    if n:
        positions = truncate(numpy.arange(n), cfg["max_length"], cfg["truncation"])
        lstm[positions] = row["attributions"][: len(positions)]
        read[positions] = True
    ngram = ngram_part @ result["coef"]
    return Explanation(
        doc=doc,
        label=labels[label],
        score=float(_scores(row["logits"], exclusive)[label]),
        weights=lstm + ngram,
        lstm_weights=lstm,
        ngram_weights=ngram,
        margin=result["margin"],
        baseline=float(row["baseline_margin"]),
        completeness_error=float(result["error"]),
        steps=int(result["steps"]),
        read_by_lstm=read,
    )
