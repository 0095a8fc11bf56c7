"""Helpers the workflow scripts share (not part of the spacy-lstm package).

Run the scripts as `python scripts/NAME.py ...` (project.yml does): Python puts scripts/ on
the import path, so they import this module and corpora.py directly, and spacy-lstm comes
from the installed package (`pip install -e .`).
"""
from typing import Dict, Iterable, Optional, Sequence


def top_label(cats: Dict[str, float]) -> Optional[str]:
    """The highest-scoring label of a doc.cats-style dict (None for an empty dict)."""
    return max(cats, key=cats.get) if cats else None


def accuracy(predicted: Sequence[Optional[str]], gold: Sequence[Optional[str]]) -> float:
    """The fraction of documents whose predicted label is the gold label."""
    if len(predicted) != len(gold):
        raise ValueError(f"{len(predicted)} predictions for {len(gold)} gold labels")
    return sum(p == g for p, g in zip(predicted, gold)) / max(len(gold), 1)


def find_textcat(nlp, need: str = "a text classifier"):
    """(name, component) of the pipeline's text classifier (a component with labels whose
    factory or name mentions textcat); SystemExit naming the components otherwise."""
    for name, pipe in nlp.pipeline:
        factory = getattr(pipe, "factory_name", None) or nlp.get_pipe_meta(name).factory
        if hasattr(pipe, "labels") and "textcat" in (factory or name):
            return name, pipe
    raise SystemExit(f"no text classifier in the pipeline ({', '.join(nlp.pipe_names)}): {need} is needed")


def labels_of(docs: Iterable) -> list:
    """The top gold label of every doc."""
    return [top_label(doc.cats) for doc in docs]


def macro_f(predicted: Sequence[Optional[str]], gold: Sequence[Optional[str]]) -> float:
    """Mean over the gold labels of each label's F1 (spaCy's cats_macro_f for one label per doc)."""
    scores = []
    for label in sorted({g for g in gold if g is not None}):
        tp = sum(p == label and g == label for p, g in zip(predicted, gold))
        fp = sum(p == label and g != label for p, g in zip(predicted, gold))
        fn = sum(p != label and g == label for p, g in zip(predicted, gold))
        scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return sum(scores) / len(scores) if scores else 0.0
