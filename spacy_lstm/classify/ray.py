"""The Ray Data engine of ``spacy lstm-classify --engine ray``.

The driver plans the reading: each input is one block, except large plain JSONL/text files,
which are cut into blocks of about ``BLOCK_BYTES`` that start at line starts, so that no task
ever holds a whole file. A streaming pass over the inputs counts the records of each block
(without parsing them), which gives every block the ``seq`` of its first record. Then
``map_batches(_read_blocks)`` reads each block with the *same* readers as the local engine,
drops the records that ``--resume`` found already written (before any classification), and
yields rows in small batches; an actor pool of :class:`PipelineActor` (the pipeline loaded once
per actor) turns good rows into prediction lines, per-record failures into error lines; the
driver iterates the result **in input order** (``preserve_order``) and writes through the same
:class:`~spacy_lstm.classify.writer.ExactlyOnceWriter` as the local engine: the same output,
the same ``--resume`` semantics. A Ray instance the driver started is shut down, also on failure.

Ray is imported lazily; without it you get a clear error asking for
``pip install spacy-lstm[ray]``.
"""
import bisect
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence

import numpy as np

from ..errors import BatchError
from .inputs import Block, Record, RecordReader, Source
from .job import Predictor, Summary, load_pipeline, open_job, top_words
from .workers import child_pids, reap_when_gone
from .writer import ExactlyOnceWriter

RAY_MISSING = (
    "The Ray engine needs Ray Data, which is not installed. "
    "Install it with: pip install 'spacy-lstm[ray]'  (or pip install -e '.[ray]')"
)
BLOCK_BYTES = 8 << 20


def import_ray():
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as e:
        raise BatchError(f"{RAY_MISSING} ({e})") from e
    return ray


def _rows(rows: List[Dict[str, Any]]) -> Dict[str, np.ndarray]:
    return {
        "seq": np.array([r["seq"] for r in rows], dtype=np.int64),
        "is_error": np.array([r["is_error"] for r in rows], dtype=bool),
        "text": np.array([r["text"] for r in rows], dtype=object),
        "meta": np.array([r["meta"] for r in rows], dtype=object),
    }


def _read_blocks(plan: Dict[str, np.ndarray], *, sources: List[Source], reader_cfg: Dict[str, Any],
                 done: List[List[int]], batch_size: int) -> Iterator[Dict[str, np.ndarray]]:
    """map_batches: planned blocks -> their records not yet written, ``batch_size`` at a time.
    A good row carries the text and ``[id member, kept members]``; an error row its line."""
    starts = [r[0] for r in done]
    for i in range(len(plan["source"])):
        block = Block(**{k: (None if k == "end" and plan[k][i] < 0 else int(plan[k][i])) for k in plan})
        reader = RecordReader([], start_seq=block.first_seq, **reader_cfg)
        rows: List[Dict[str, Any]] = []
        for rec in reader.read_source(sources[block.source], start=block.start, end=block.end,
                                      first_line=block.first_line):
            k = bisect.bisect_right(starts, rec.seq) - 1
            if k >= 0 and rec.seq <= done[k][1]:
                continue  # written by an earlier run (--resume)
            if rec.error is None:
                rows.append({"seq": rec.seq, "is_error": False, "text": rec.text,
                             "meta": _encode_context(rec)})
            else:
                rows.append({"seq": rec.seq, "is_error": True, "text": "",
                             "meta": ExactlyOnceWriter.error_members(rec)})
            if len(rows) >= batch_size:
                yield _rows(rows)
                rows = []
        n = reader._seq - block.first_seq
        if n != block.n_records:
            raise BatchError(f"'{sources[block.source].path}' changed while it was read "
                             f"({n} records where {block.n_records} were counted); rerun with --resume")
        if rows:
            yield _rows(rows)


def _encode_context(rec: Record) -> str:
    """What the actor needs besides the text, for a prediction line or an error line."""
    import json

    return json.dumps([rec.meta, rec.kept, rec.source, rec.line])


class PipelineActor:
    """Callable class for ``map_batches``: loads the pipeline once per actor."""

    def __init__(self, model: str, batch_size: int = 1000, explain: int = 0):
        self.predictor = Predictor(load_pipeline(model))
        self.batch_size = batch_size
        self.explain = explain

    def __call__(self, batch: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
        import json

        is_error = batch["is_error"].copy()
        lines = list(batch["meta"])  # error rows: already their final line
        truncated = np.zeros(len(lines), dtype=bool)
        good, docs = [], []
        for i in np.flatnonzero(~is_error):
            meta, kept, source, line = json.loads(lines[i])
            try:
                doc, truncated[i] = self.predictor.make_doc(str(batch["text"][i]))
                docs.append(doc)
                good.append((i, meta, kept, source, line))
            except ValueError as e:
                is_error[i], lines[i] = True, self._error(meta, source, line, str(e))
        nlp = self.predictor.nlp
        docs = list(nlp.pipe(docs, batch_size=self.batch_size))
        tops = top_words(nlp, docs, self.explain) if self.explain > 0 else [None] * len(docs)
        for (i, meta, kept, source, line), doc, top in zip(good, docs, tops):
            try:
                lines[i] = self.predictor.members(meta, kept, doc.cats, bool(truncated[i]), top)
            except ValueError as e:
                is_error[i], lines[i] = True, self._error(meta, source, line, str(e))
        return {"seq": batch["seq"], "is_error": is_error, "truncated": truncated,
                "payload": np.array(lines, dtype=object)}

    @staticmethod
    def _error(meta: str, source: str, line: Optional[int], reason: str) -> str:
        import json

        rec = Record(0, json.loads("{%s}" % meta)["id"], None, None, source, line, reason, meta=meta)
        return ExactlyOnceWriter.error_members(rec)


def classify_ray(
    model: str,
    inputs: Sequence[str],
    output: Any,
    *,
    text_field: str = "text",
    id_field: Optional[str] = "id",
    keep_fields: Sequence[str] = (),
    input_format: str = "auto",
    batch_size: int = 1000,
    resume: bool = False,
    overwrite: bool = False,
    quiet: bool = True,
    address: Optional[str] = None,
    num_actors: Optional[int] = None,
    block_bytes: int = BLOCK_BYTES,
    explain: int = 0,
) -> Summary:
    """Same job as :func:`spacy_lstm.classify.local.classify`, on Ray Data.

    Connects to ``address`` (e.g. ``"auto"``) or starts a local Ray instance
    (and shuts it down afterwards) unless Ray is already initialized.
    """
    ray = import_ray()
    model_path = Path(model)
    if model_path.exists():
        model = str(model_path.resolve())  # actors may run in another working directory
    sources, writer, summary = open_job(
        inputs, output, input_format=input_format, batch_size=batch_size, resume=resume,
        overwrite=overwrite, text_field=text_field, id_field=id_field, keep_fields=keep_fields, explain=explain,
    )
    sources = [Source(s.path.resolve(), s.kind, s.name) for s in sources]
    started = False
    reaper = None
    pbar = None
    t0 = time.perf_counter()
    try:
        load_pipeline(model)  # a bad model is one clear error here, not a failure in every actor
        reader_cfg = {"text_field": text_field, "id_field": id_field, "keep_fields": list(keep_fields)}
        blocks = list(RecordReader(sources, **reader_cfg).plan(block_bytes))
        done = writer.done_ranges()
        summary.read = sum(b.n_records for b in blocks)
        summary.skipped = sum(min(b, summary.read - 1) - a + 1 for a, b in done if a < summary.read)
        if not ray.is_initialized():
            before = child_pids()
            ray.init(address=address, include_dashboard=False, log_to_driver=not quiet,
                     ignore_reinit_error=True)
            started = True
            reaper = reap_when_gone(child_pids() - before)  # Ray's head goes also on kill -9
        ctx = ray.data.DataContext.get_current()
        ctx.execution_options.preserve_order = True
        if quiet:
            ctx.enable_progress_bars = False
        if num_actors is None:
            # Leave one CPU to the read tasks, or the actors starve them.
            num_actors = max(1, int(ray.cluster_resources().get("CPU", 1)) - 1)
        plan = [{**asdict(b), "end": -1 if b.end is None else b.end} for b in blocks]
        ds = ray.data.from_items(plan, override_num_blocks=max(1, len(plan)))
        ds = ds.map_batches(
            _read_blocks, batch_size=1, batch_format="numpy", num_cpus=0.5,
            fn_kwargs={"sources": sources, "reader_cfg": reader_cfg, "done": done, "batch_size": batch_size},
        )
        ds = ds.map_batches(
            PipelineActor,
            fn_constructor_kwargs={"model": model, "batch_size": batch_size, "explain": explain},
            batch_size=batch_size,
            batch_format="numpy",
            concurrency=num_actors,
            num_cpus=1,
        )
        if not quiet:
            from tqdm import tqdm

            pbar = tqdm(unit="doc", dynamic_ncols=True, total=summary.read - summary.skipped)
        last = -1
        try:
            for batch in ds.iter_batches(batch_size=batch_size, batch_format="numpy", prefetch_batches=2):
                n = len(batch["payload"])
                for j in range(n):
                    seq = int(batch["seq"][j])
                    if seq <= last:  # the output must follow input order
                        raise BatchError(f"Ray returned records out of input order at {seq}")
                    last = seq
                    is_error = bool(batch["is_error"][j])
                    writer.add_raw(seq, batch["payload"][j], is_error)
                    summary.errors += is_error
                    summary.classified += not is_error
                    summary.truncated += bool(batch["truncated"][j])
                writer.commit()
                summary.seconds = time.perf_counter() - t0
                if pbar is not None:
                    pbar.update(n)
        except KeyboardInterrupt as e:
            summary.interrupted = e
        summary.seconds = time.perf_counter() - t0
    except Exception as e:  # noqa: BLE001 - a failed Ray task arrives wrapped
        cause = getattr(e, "cause", None)
        if isinstance(cause, BatchError):
            raise cause from None
        raise
    finally:
        if pbar is not None:
            pbar.close()
        try:
            writer.close(commit=summary.interrupted is None)
        finally:
            if started:
                ray.shutdown()
            if reaper is not None:
                reaper.kill()
                reaper.wait()
    return summary
