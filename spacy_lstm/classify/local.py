"""The local engine of `spacy lstm-classify`: the good records go through
``nlp.pipe(..., as_tuples=True)`` in this process (or spaCy's forked workers) and the
predictions are committed once per batch."""
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Sequence, Tuple

from .inputs import RecordReader
from .job import Summary, load_pipeline, open_job, prediction_payload, with_explanations


class _Progress:
    """A progress bar on stderr: input bytes read (or files, for folders of documents)."""

    def __init__(self, reader: RecordReader, quiet: bool):
        self.reader = reader
        self.bar = None
        self.t0 = time.perf_counter()
        self.docs = 0
        if quiet:
            return
        from tqdm import tqdm

        if reader.by_files:
            self.bar = tqdm(total=reader.total, unit="doc", dynamic_ncols=True, file=sys.stderr)
        else:
            self.bar = tqdm(total=reader.total, unit="B", unit_scale=True, unit_divisor=1024,
                            dynamic_ncols=True, file=sys.stderr)

    def update(self, docs: int) -> None:
        self.docs += docs
        if self.bar is None:
            return
        delta = self.reader.progress - self.bar.n
        if delta > 0:
            self.bar.update(delta)
        elapsed = time.perf_counter() - self.t0
        if not self.reader.by_files:
            self.bar.set_postfix_str(f"{self.docs / elapsed if elapsed else 0:.0f} docs/s", refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def classify(
    nlp_or_model: Any,
    inputs: Sequence[str],
    output: Path,
    *,
    text_field: str = "text",
    id_field: Optional[str] = "id",
    keep_fields: Sequence[str] = (),
    input_format: str = "auto",
    batch_size: int = 1000,
    n_process: int = 1,
    resume: bool = False,
    overwrite: bool = False,
    quiet: bool = True,
    explain: int = 0,
    on_commit: Optional[Callable[[Summary], None]] = None,
) -> Summary:
    """Classify every record of ``inputs`` into ``output`` (local engine).

    ``nlp_or_model`` is a loaded ``Language`` or a name/path for ``spacy.load``.
    ``explain`` > 0 adds each record's top words (``"explain": [[token, weight], ...]``).
    Raises :class:`BatchError` for fatal problems; record errors go to the
    error file and are counted in the returned :class:`Summary`.
    """
    sources, writer, summary = open_job(
        inputs, output, input_format=input_format, batch_size=batch_size, resume=resume, overwrite=overwrite
    )
    try:
        nlp = load_pipeline(nlp_or_model) if isinstance(nlp_or_model, (str, Path)) else nlp_or_model
        reader = RecordReader(sources, text_field=text_field, id_field=id_field, keep_fields=keep_fields)
        progress = _Progress(reader, quiet)

        def good_records() -> Iterator[Tuple[str, Tuple[int, Any, Any]]]:
            for rec in reader:
                summary.read += 1
                if writer.is_done(rec.seq):
                    summary.skipped += 1
                    continue
                if rec.error is not None:
                    summary.errors += 1
                    writer.add_error(rec)
                    continue
                yield rec.text, (rec.seq, rec.id, rec.extra)

        t0 = time.perf_counter()
        pending = 0
        try:
            docs = nlp.pipe(good_records(), as_tuples=True, batch_size=batch_size, n_process=n_process)
            for doc, (seq, rid, extra), top in with_explanations(nlp, docs, explain, batch_size):
                writer.add_output(seq, prediction_payload(rid, doc.cats, extra, top))
                summary.classified += 1
                pending += 1
                if pending >= batch_size:
                    writer.commit()
                    summary.seconds = time.perf_counter() - t0
                    progress.update(pending)
                    pending = 0
                    if on_commit is not None:
                        on_commit(summary)
            writer.commit()
            progress.update(pending)
        except KeyboardInterrupt:
            # Whatever is committed is whole lines; the rest is redone on --resume.
            summary.interrupted = True
        finally:
            summary.seconds = time.perf_counter() - t0
            progress.close()
    finally:
        writer.close(commit=not summary.interrupted)
    return summary
