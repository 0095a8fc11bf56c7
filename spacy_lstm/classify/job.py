"""What both engines of `spacy lstm-classify` share: the exit status, the run's summary, the
prediction record, loading the pipeline, and opening the inputs and the exactly-once output.

The engines: local.py (`nlp.pipe` in this process) and ray.py (Ray Data actors).
"""
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

from ..errors import BatchError
from .inputs import Source, expand_inputs
from .writer import ExactlyOnceWriter, resolve_output

# Exit status of the CLI, documented in the README.
EXIT_OK = 0
EXIT_FATAL = 1
EXIT_RECORD_ERRORS = 2
EXIT_INTERRUPTED = 130


class Summary:
    """Counts and timing of one run; `exit_code` is what the CLI exits with."""

    def __init__(self):
        self.read = 0
        self.classified = 0
        self.errors = 0
        self.skipped = 0
        self.previous_errors = 0
        self.seconds = 0.0
        self.interrupted = False
        self.output: Optional[Path] = None
        self.errors_path: Optional[Path] = None

    @property
    def docs_per_second(self) -> float:
        return self.classified / self.seconds if self.seconds > 0 else 0.0

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return EXIT_INTERRUPTED
        return EXIT_RECORD_ERRORS if (self.errors or self.previous_errors) else EXIT_OK


def prediction_payload(
    rid: Any, cats: Dict[str, float], extra: Optional[Dict[str, Any]], explain: Optional[list] = None
) -> Dict[str, Any]:
    """One output record: the id, the top label and its score, all cats, with --explain the
    top words and their weights, kept input fields."""
    cats = {k: float(v) for k, v in cats.items()}
    if cats:
        label = max(cats, key=cats.__getitem__)
        score = cats[label]
    else:
        label, score = None, None
    payload: Dict[str, Any] = {"id": rid, "label": label, "score": score, "cats": cats}
    if explain is not None:
        payload["explain"] = explain
    if extra:
        for k, v in extra.items():
            if k not in payload:
                payload[k] = v
    return payload


def top_words(nlp, docs: List[Any], k: int) -> List[list]:
    """--explain K: each doc's K tokens that pushed most towards its top label, as [token,
    weight] pairs (weights rounded to 1e-4, so that both engines write the same numbers)."""
    from ..textcat.component import find_classifier

    explanations = find_classifier(nlp).explain(docs) if docs else []
    return [[[token.text, round(weight, 4)] for token, weight in e.top(k)] for e in explanations]


def with_explanations(nlp, pairs: Iterable[Tuple[Any, Any]], k: int, batch_size: int) -> Iterator[Tuple[Any, Any, Optional[list]]]:
    """(doc, context, top words or None) for nlp.pipe's (doc, context) pairs; with k > 0 the
    docs are explained a batch at a time."""
    if k <= 0:
        for doc, context in pairs:
            yield doc, context, None
        return
    batch: List[Tuple[Any, Any]] = []
    for pair in pairs:
        batch.append(pair)
        if len(batch) >= batch_size:
            yield from _explain_batch(nlp, batch, k)
            batch = []
    yield from _explain_batch(nlp, batch, k)


def _explain_batch(nlp, batch, k):
    tops = top_words(nlp, [doc for doc, _ in batch], k)
    for (doc, context), top in zip(batch, tops):
        yield doc, context, top


def load_pipeline(model: str):
    import spacy

    try:
        return spacy.load(model)
    except Exception as e:  # noqa: BLE001 - any load failure is fatal for the CLI
        raise BatchError(f"Cannot load pipeline '{model}': {e}") from e


def open_job(
    inputs: Sequence[str], output: Path, *, input_format: str, batch_size: int, resume: bool, overwrite: bool
) -> Tuple[List[Source], ExactlyOnceWriter, Summary]:
    """Check the arguments, list the inputs and open the output (BatchError if any is wrong)."""
    if batch_size < 1:
        raise BatchError("--batch-size must be >= 1")
    sources = expand_inputs(inputs, input_format)
    output = resolve_output(Path(output))
    writer = ExactlyOnceWriter(output, resume=resume, overwrite=overwrite).open()
    summary = Summary()
    summary.output, summary.errors_path = output, writer.errors_path
    summary.previous_errors = writer.previous_errors
    return sources, writer, summary
