"""The Ray Data engine of ``spacy lstm-classify --engine ray``.

Pipeline: ``ray.data.read_binary_files`` reads the input files (one row per
file) -> ``flat_map`` parses each file into records with the *same* readers as
the local engine (bad records become error rows, never exceptions) ->
``map_batches`` with an actor pool of :class:`PipelineActor` (a callable class
that loads the spaCy pipeline once per actor) -> the driver iterates the result
**in input order** (``preserve_order``), gives every row its global sequential
position and writes through the same :class:`~spacy_lstm.classify.writer.ExactlyOnceWriter`
as the local engine: a single JSONL file (plus ``<output>.errors.jsonl``) with
the same content as the local engine's, and the same ``--resume`` semantics.

Ray is imported lazily; without it you get a clear error asking for
``pip install spacy-lstm[ray]``.
"""
import json
import os
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import srsly

from ..errors import BatchError
from .inputs import RecordReader, Source
from .job import Summary, open_job, prediction_payload, top_words
from .writer import ExactlyOnceWriter

RAY_MISSING = (
    "The Ray engine needs Ray Data, which is not installed. "
    "Install it with: pip install 'spacy-lstm[ray]'  (or pip install -e '.[ray]')"
)


def import_ray():
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as e:
        raise BatchError(f"{RAY_MISSING} ({e})") from e
    return ray


def _norm(path: str) -> str:
    return os.path.realpath(path) if "://" not in path else path


def _parse_files(row: Dict[str, Any], sources: Dict[str, List[Any]], reader_cfg: Dict[str, Any]) -> List[Dict[str, Any]]:
    """flat_map: one file (bytes) -> its records, good and bad, in file order."""
    file_idx, kind, name = sources[_norm(row["path"])]
    reader = RecordReader([], **reader_cfg)
    out = []
    for i, rec in enumerate(reader.read_source(Source(Path(name), kind, name), data=row["bytes"])):
        if rec.error is None:
            out.append({"file_idx": file_idx, "rec_idx": i, "is_error": False, "text": rec.text,
                        "meta": srsly.json_dumps({"id": rec.id, "extra": rec.extra})})
        else:
            out.append({"file_idx": file_idx, "rec_idx": i, "is_error": True, "text": "",
                        "meta": srsly.json_dumps(ExactlyOnceWriter.error_payload(rec))})
    return out


class PipelineActor:
    """Callable class for ``map_batches``: loads the pipeline once per actor."""

    def __init__(self, model: str, batch_size: int = 1000, explain: int = 0):
        import spacy

        self.nlp = spacy.load(model)
        self.batch_size = batch_size
        self.explain = explain

    def __call__(self, batch: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
        is_error = batch["is_error"]
        metas = batch["meta"]
        payloads = list(metas)  # error rows: already their final payload
        good = [i for i in range(len(is_error)) if not is_error[i]]
        texts = [str(batch["text"][i]) for i in good]
        docs = list(self.nlp.pipe(texts, batch_size=self.batch_size))
        tops = top_words(self.nlp, docs, self.explain) if self.explain > 0 else [None] * len(docs)
        for i, doc, top in zip(good, docs, tops):
            meta = json.loads(metas[i])
            payloads[i] = srsly.json_dumps(prediction_payload(meta["id"], doc.cats, meta["extra"], top))
        return {
            "file_idx": batch["file_idx"],
            "rec_idx": batch["rec_idx"],
            "is_error": is_error,
            "payload": np.array(payloads, dtype=object),
        }


def classify_ray(
    model: str,
    inputs: Sequence[str],
    output: Path,
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
        inputs, output, input_format=input_format, batch_size=batch_size, resume=resume, overwrite=overwrite
    )
    source_map = {_norm(str(s.path)): [i, s.kind, s.name] for i, s in enumerate(sources)}
    started = False
    pbar = None
    try:
        if not ray.is_initialized():
            ray.init(address=address, include_dashboard=False, log_to_driver=not quiet,
                     ignore_reinit_error=True)
            started = True
        ctx = ray.data.DataContext.get_current()
        ctx.execution_options.preserve_order = True
        if quiet:
            ctx.enable_progress_bars = False
        if num_actors is None:
            # Leave one CPU to the read/parse tasks, or the actors starve them.
            num_actors = max(1, int(ray.cluster_resources().get("CPU", 1)) - 1)
        reader_cfg = {"text_field": text_field, "id_field": id_field, "keep_fields": list(keep_fields)}
        ds = ray.data.read_binary_files([str(s.path) for s in sources], include_paths=True,
                                        num_cpus=0.5)
        ds = ds.flat_map(_parse_files, fn_kwargs={"sources": source_map, "reader_cfg": reader_cfg},
                         num_cpus=0.5)
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

            pbar = tqdm(unit="doc", dynamic_ncols=True)
        t0 = time.perf_counter()
        seq = 0
        last = (-1, -1)
        try:
            for batch in ds.iter_batches(batch_size=batch_size, batch_format="numpy", prefetch_batches=2):
                n = len(batch["payload"])
                for j in range(n):
                    key = (int(batch["file_idx"][j]), int(batch["rec_idx"][j]))
                    if key <= last:  # the global position must follow input order
                        raise BatchError(f"Ray returned records out of input order at {key}")
                    last = key
                    summary.read += 1
                    if not writer.is_done(seq):
                        is_error = bool(batch["is_error"][j])
                        writer.add_raw(seq, batch["payload"][j], is_error)
                        if is_error:
                            summary.errors += 1
                        else:
                            summary.classified += 1
                    else:
                        summary.skipped += 1
                    seq += 1
                writer.commit()
                summary.seconds = time.perf_counter() - t0
                if pbar is not None:
                    pbar.update(n)
        except KeyboardInterrupt:
            summary.interrupted = True
        summary.seconds = time.perf_counter() - t0
    finally:
        if pbar is not None:
            pbar.close()
        writer.close(commit=not summary.interrupted)
        if started:
            ray.shutdown()
    return summary
