"""Which checkpoint is `model-best`: the LSTM must earn its place over the n-gram path.

`LSTMTextCat.v2` starts training as its fitted n-gram model (the LSTM's output layer is zero)
and spaCy keeps the checkpoint with the best dev score of ~20 evaluations. On a small dev set
those scores are noisy, so the best of them is often a checkpoint whose LSTM changed a few
dozen predictions at random and happened to land on the right side of the dev set: measured
over 3 splits of 4 small review corpora (3,600-5,000 docs), the checkpoint picked by plain
dev accuracy was 1-1.5 points *below* the n-gram path alone on the test set.

So the component also reports, on every evaluation, the dev accuracy of its n-gram path on its
own and a guarded accuracy: the n-gram path's accuracy plus the checkpoint's gain over it,
less `GUARD_Z` standard errors of a paired difference (McNemar: the docs that the LSTM fixed
and the ones it broke), i.e. the lower confidence bound of the gain. A checkpoint whose gain
is within the noise of the dev set scores below one that predicts what the n-gram model
predicts (the first evaluations do), so a corpus where the LSTM adds nothing measurable keeps
the n-gram model; with more dev docs the standard error shrinks and real gains count. The
shipped configs select on `cats_guarded_accuracy` ([training.score_weights]); the plain
`cats_score` is still reported.
"""
from typing import Dict, Optional

import numpy

# One-sided 95%: a checkpoint's gain over the n-gram path counts beyond 1.645 standard errors.
GUARD_Z = 1.645


def decisions(scores: numpy.ndarray, exclusive: bool, threshold: float) -> numpy.ndarray:
    """The predicted label per doc (exclusive classes) or a yes/no decision per doc and label."""
    return scores.argmax(axis=1) if exclusive else scores >= threshold


def guarded_scores(
    scores: numpy.ndarray,
    reference: Optional[numpy.ndarray],
    truths: numpy.ndarray,
    known: numpy.ndarray,
    *,
    exclusive: bool,
    threshold: float,
    z: float = GUARD_Z,
) -> Dict[str, float]:
    """cats_accuracy, cats_ngram_accuracy and cats_guarded_accuracy of a checkpoint.

    scores: the component's scores [n_docs, n_labels]; reference: the n-gram path's scores
    (None without one: the guarded accuracy is then the accuracy); truths: gold values;
    known: 1 where a gold value is annotated. Exclusive classes count one decision per doc
    (docs without a gold label are skipped), multilabel one per annotated (doc, label).
    """
    if exclusive:
        keep = known.all(axis=1) & (truths.max(axis=1) > 0.5)
        gold = truths[keep].argmax(axis=1)
        correct = decisions(scores[keep], True, threshold) == gold
        ref_correct = None if reference is None else decisions(reference[keep], True, threshold) == gold
    else:
        cells = known > 0
        gold = (truths >= 0.5)[cells]
        correct = decisions(scores, False, threshold)[cells] == gold
        ref_correct = None if reference is None else decisions(reference, False, threshold)[cells] == gold
    n = correct.size
    if n == 0:
        return {}
    accuracy = float(correct.mean())
    if ref_correct is None:
        return {"cats_accuracy": accuracy, "cats_guarded_accuracy": accuracy}
    fixed = int((correct & ~ref_correct).sum())
    broken = int((~correct & ref_correct).sum())
    # standard error of the paired difference in accuracy (McNemar's discordant pairs)
    se = numpy.sqrt(max(fixed + broken - (fixed - broken) ** 2 / n, 0.0)) / n
    gain = (fixed - broken) / n - z * se  # the lower bound: negative unless the gain is clear
    ref_accuracy = float(ref_correct.mean())
    return {"cats_accuracy": accuracy, "cats_ngram_accuracy": ref_accuracy, "cats_guarded_accuracy": ref_accuracy + gain}
