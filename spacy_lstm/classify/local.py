"""The local engine of `spacy lstm-classify`: the good records are tokenized here (a text the
tokenizer refuses is that record's error), go through ``nlp.pipe(..., as_tuples=True)`` in
this process (or spaCy's forked workers, which die with this process) and the predictions are
committed once per batch."""
import sys
import time
from typing import Any, Callable, Iterator, Optional, Sequence, Tuple

from .inputs import Record, RecordReader
from .job import Predictor, Summary, load_pipeline, open_job, with_explanations
from .workers import workers_die_with_parent


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
    output: Any,
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
    on_commit: Optional[Callable[[Summary], None]] = None,
    explain: int = 0,
) -> Summary:
    """Classify every record of ``inputs`` into ``output`` (local engine).

    ``nlp_or_model`` is a loaded ``Language`` or a name/path for ``spacy.load``.
    ``explain`` > 0 adds each record's top words (``"explain": [[token, weight], ...]``).
    Raises :class:`BatchError` for fatal problems; record errors (and unreadable
    files) go to the error file and are counted in the returned :class:`Summary`.
    """
    sources, writer, summary = open_job(
        inputs, output, input_format=input_format, batch_size=batch_size, resume=resume,
        overwrite=overwrite, text_field=text_field, id_field=id_field, keep_fields=keep_fields, explain=explain,
    )
    try:
        nlp = load_pipeline(nlp_or_model)
        predictor = Predictor(nlp)
        reader = RecordReader(sources, text_field=text_field, id_field=id_field, keep_fields=keep_fields)
        progress = _Progress(reader, quiet)

        def docs() -> Iterator[Tuple[Any, Tuple[Record, bool]]]:
            for rec in reader:
                summary.read += 1
                if writer.is_done(rec.seq):
                    summary.skipped += 1
                    continue
                if rec.error is None:
                    try:
                        doc, truncated = predictor.make_doc(rec.text)
                    except ValueError as e:
                        rec.error = str(e)
                if rec.error is not None:
                    summary.errors += 1
                    writer.add_error(rec)
                    continue
                rec.text = None  # the doc has it; keep the context small for worker processes
                yield doc, (rec, truncated)

        t0 = time.perf_counter()
        pending = 0
        try:
            with workers_die_with_parent(n_process > 1):
                # a name holds the generator, so that on an error the workers are killed
                # (on leaving the with) before spaCy's cleanup joins them
                pipe = nlp.pipe(docs(), as_tuples=True, batch_size=batch_size, n_process=n_process)
                for doc, (rec, truncated), top in with_explanations(nlp, pipe, explain, batch_size):
                    try:
                        writer.add_output(rec.seq, predictor.members(rec.meta, rec.kept, doc.cats, truncated, top))
                        summary.classified += 1
                        summary.truncated += truncated
                    except ValueError as e:
                        rec.error = str(e)
                        writer.add_error(rec)
                        summary.errors += 1
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
        except KeyboardInterrupt as e:  # Ctrl-C, or SIGTERM (Terminated)
            # Whatever is committed is whole lines; the rest is redone on --resume.
            summary.interrupted = e
        finally:
            summary.seconds = time.perf_counter() - t0
            progress.close()
    finally:
        writer.close(commit=summary.interrupted is None)
    return summary
