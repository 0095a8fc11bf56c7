"""What both engines of `spacy lstm-classify` share: the exit status, the run's summary,
loading the pipeline, turning a text into a prediction line (or a per-record error), and
opening a job (inputs, the checks on the output, the lock and the exactly-once writer).

The engines: local.py (`nlp.pipe` in this process) and ray.py (Ray Data actors).
"""
import json
import signal
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

from ..errors import BatchError
from .paths import Source, expand_inputs, input_manifest, refuse_overlap
from .writer import ExactlyOnceWriter, resolve_output, written_paths

# Exit status of the CLI, documented in the README.
EXIT_OK = 0
EXIT_FATAL = 1
EXIT_RECORD_ERRORS = 2
EXIT_INTERRUPTED = 130  # Ctrl-C (SIGINT)
EXIT_TERMINATED = 143  # SIGTERM

# Members of an output line that the input cannot supply through --keep-fields.
RESERVED_FIELDS = ("seq", "id", "label", "score", "cats", "explain", "truncated")


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C: the run stops after whole lines and reports."""


def terminate_like_interrupt() -> Any:
    """Make SIGTERM raise :class:`Terminated` in the main thread; returns the old handler."""

    def handler(signum, frame):
        raise Terminated()

    return signal.signal(signal.SIGTERM, handler)


class Summary:
    """Counts and timing of one run; `exit_code` is what the CLI exits with."""

    def __init__(self):
        self.read = 0
        self.classified = 0
        self.errors = 0
        self.truncated = 0
        self.skipped = 0
        self.previous_errors = 0
        self.seconds = 0.0
        self.interrupted: Optional[KeyboardInterrupt] = None
        self.output: Optional[Path] = None
        self.errors_path: Optional[Path] = None

    @property
    def docs_per_second(self) -> float:
        return self.classified / self.seconds if self.seconds > 0 else 0.0

    @property
    def exit_code(self) -> int:
        if self.interrupted is not None:
            return EXIT_TERMINATED if isinstance(self.interrupted, Terminated) else EXIT_INTERRUPTED
        return EXIT_RECORD_ERRORS if (self.errors or self.previous_errors) else EXIT_OK


def load_pipeline(model: Any):
    """The pipeline, refusing one that cannot classify (BatchError names the problem)."""
    if isinstance(model, (str, Path)):
        import spacy

        try:
            nlp = spacy.load(model)
        except Exception as e:  # noqa: BLE001 - any load failure is fatal for the CLI
            raise BatchError(f"Cannot load pipeline '{model}': {e}") from e
    else:
        nlp = model
    textcats = [name for name in nlp.pipe_names if "textcat" in nlp.get_pipe_meta(name).factory]
    if not textcats:
        raise BatchError(
            f"The pipeline has no text classifier (components: {', '.join(nlp.pipe_names) or 'none'}); "
            "use a pipeline trained with lstm_textcat, lstm_textcat_multilabel or a spaCy textcat."
        )
    if not any(getattr(nlp.get_pipe(name), "labels", ()) for name in textcats):
        raise BatchError(f"The text classifier '{textcats[0]}' has no labels: train it first.")
    return nlp


class Predictor:
    """Text -> Doc and Doc -> output line members, where every failure is the record's own:
    a ``ValueError`` whose message is the reason in the error file."""

    def __init__(self, nlp):
        self.nlp = nlp
        self.max_length = nlp.max_length

    def make_doc(self, text: str) -> Tuple[Any, bool]:
        """(doc, truncated). A text over ``nlp.max_length`` keeps its first and last
        ``max_length / 2`` characters: the network reads far fewer tokens than that from
        either end, and the tokenizer never sees a text it refuses."""
        truncated = len(text) > self.max_length
        if truncated:
            half = self.max_length // 2
            text = text[:half] + "\n" + text[len(text) - (self.max_length - half - 1):]
        try:
            return self.nlp.make_doc(text), truncated
        except Exception as e:  # noqa: BLE001 - a tokenizer failure is this record's problem
            raise ValueError(f"tokenizer failed: {type(e).__name__}: {str(e)[:200]}") from e

    @staticmethod
    def members(meta: str, kept: str, cats: Dict[str, float], truncated: bool, explain: Optional[list] = None) -> str:
        """The output line's members: id, label, score, cats, with --explain the top words,
        kept fields, truncated flag."""
        cats = {k: float(v) for k, v in cats.items()}
        label = max(cats, key=cats.__getitem__)
        try:
            cats_json = json.dumps(cats, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        except ValueError:
            raise ValueError("the model gave a score that is not a finite number (NaN or infinity)") from None
        line = '%s,"label":%s,"score":%r,"cats":%s' % (meta, json.dumps(label, ensure_ascii=False), cats[label], cats_json)
        if explain is not None:
            line += ',"explain":' + json.dumps(explain, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        if kept:
            line += "," + kept
        return line + ',"truncated":true' if truncated else line


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


def check_keep_fields(keep_fields: Sequence[str]) -> None:
    clash = [f for f in keep_fields if f in RESERVED_FIELDS]
    if clash:
        raise BatchError(
            f"--keep-fields cannot include {', '.join(clash)}: the output writes its own "
            f"{', '.join(RESERVED_FIELDS)}. Rename that input field, or leave it out."
        )


def open_job(
    inputs: Sequence[str], output: Any, *, input_format: str, batch_size: int, resume: bool, overwrite: bool,
    text_field: str = "text", id_field: Optional[str] = "id", keep_fields: Sequence[str] = (), explain: int = 0,
) -> Tuple[List[Source], ExactlyOnceWriter, Summary]:
    """Check the arguments, list the inputs, refuse an output among them, take the output's
    lock and open it (BatchError if any is wrong). Call before loading the pipeline."""
    if batch_size < 1:
        raise BatchError("--batch-size must be >= 1")
    check_keep_fields(keep_fields)
    sources = expand_inputs(inputs, input_format)
    output = resolve_output(output)
    refuse_overlap(inputs, sources, written_paths(output))
    settings = {"input_format": input_format, "text_field": text_field, "id_field": id_field or None,
                "keep_fields": list(keep_fields)}
    if explain:  # lines with and without "explain" must not mix in one output
        settings["explain"] = explain
    manifest = input_manifest(sources, settings)
    writer = ExactlyOnceWriter(output, resume=resume, overwrite=overwrite, manifest=manifest).open()
    summary = Summary()
    summary.output, summary.errors_path = output, writer.errors_path
    summary.previous_errors = writer.previous_errors
    return sources, writer, summary
