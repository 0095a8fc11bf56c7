"""``spacy lstm-classify``: batch classification of review documents.

Registered on spaCy's CLI app through the ``spacy_cli`` entry point
(``lstm-classify = spacy_lstm.cli.classify:classify_cli``) and also available as
``python -m spacy_lstm classify`` and ``spacy-lstm classify``.
"""
import signal
from pathlib import Path
from typing import List, Optional

import typer
from wasabi import msg

from spacy.cli._util import Arg, Opt, app, import_code, setup_gpu

from ..classify.job import (
    EXIT_FATAL, EXIT_INTERRUPTED, EXIT_OK, EXIT_RECORD_ERRORS, EXIT_TERMINATED, Summary, Terminated,
    terminate_like_interrupt,
)
from ..classify.local import classify
from ..classify.paths import FORMATS
from ..errors import BatchError

# lstm_textcat sorts each nlp.pipe batch into length buckets, and a larger batch buckets
# tighter (less padding); a crash re-does at most one batch. One process: TensorFlow already
# uses every core, and forked workers run the slower NumPy twin of the network.
DEFAULT_BATCH_SIZE = 1000
DEFAULT_N_PROCESS = 1

inputs_help = """Input files, glob patterns or folders. JSONL (.jsonl/.ndjson), CSV (.csv,
.tsv), plain text with one document per line (anything else), or a folder of .txt
files (one document per file, recursive, sorted). Any file may be gzipped (.gz)."""
output_help = """Output JSONL file (a folder, or a path ending in /, gets predictions.jsonl).
Bad records go to <output>.errors.jsonl; <output>.lock and <output>.manifest.json are kept
beside it. It must be outside the inputs."""


@app.command(
    "lstm-classify",
    context_settings={"allow_extra_args": False, "ignore_unknown_options": False},
)
def classify_cli(
    # fmt: off
    model: str = Arg(..., help="Pipeline name or path (e.g. training/model-best)"),
    inputs: List[str] = Arg(..., help=inputs_help),
    output: str = Arg(..., help=output_help),
    text_field: str = Opt("text", "--text-field", "-t", help="JSON field / CSV column holding the text"),
    id_field: str = Opt("id", "--id-field", "-i", help="JSON field / CSV column holding the record id (default id: file:line or file name)"),
    keep_fields: str = Opt("", "--keep-fields", "-k", help="Comma-separated input fields copied to the output"),
    input_format: str = Opt("auto", "--input-format", "-f", help=f"Input format of files ({', '.join(FORMATS)}); auto picks by extension"),
    batch_size: int = Opt(DEFAULT_BATCH_SIZE, "--batch-size", "-b", help="Documents per nlp.pipe batch (and per flush of the output)"),
    n_process: int = Opt(DEFAULT_N_PROCESS, "--n-process", "-n", help="Worker processes for nlp.pipe (local engine)"),
    resume: bool = Opt(False, "--resume", "-R", help="Continue an interrupted run with the same arguments"),
    overwrite: bool = Opt(False, "--overwrite", "-F", help="Replace an existing non-empty output"),
    quiet: bool = Opt(False, "--quiet", "-q", help="No progress bar and no summary"),
    engine: str = Opt("local", "--engine", "-e", help="local or ray"),
    address: Optional[str] = Opt(None, "--address", help="Ray cluster address (e.g. auto); default: start a local Ray instance"),
    num_actors: Optional[int] = Opt(None, "--num-actors", help="Ray engine: size of the actor pool (default: number of CPUs in the cluster minus one)"),
    code_path: Optional[Path] = Opt(None, "--code", "-c", help="Path to Python file with additional code (registered functions) to be imported"),
    use_gpu: int = Opt(-1, "--gpu-id", "-g", help="GPU ID or -1 for CPU (local engine)"),
    explain: int = Opt(0, "--explain", help="Add the K words that pushed most towards each record's label: \"explain\": [[token, weight], ...]"),
    # fmt: on
):
    """
    Classify documents with a trained pipeline, streaming: one JSONL line per
    input record, in input order, with the id, the top label and score and all
    cats. Bad records go to <output>.errors.jsonl with their location and
    reason, and so does a file that cannot be read. After an interruption,
    rerun with --resume: every record ends up in the output or in the error
    file exactly once. Exit status: 0 all records classified, 2 some records
    went to the error file, 1 fatal error, 130 interrupted (Ctrl-C), 143
    terminated (SIGTERM).
    """
    previous_term = terminate_like_interrupt()
    try:
        _run(model, inputs, output, text_field, id_field, keep_fields, input_format, batch_size, n_process,
             resume, overwrite, quiet, engine, address, num_actors, code_path, use_gpu, explain)
    finally:
        signal.signal(signal.SIGTERM, previous_term)


def _run(model, inputs, output, text_field, id_field, keep_fields, input_format, batch_size, n_process,
         resume, overwrite, quiet, engine, address, num_actors, code_path, use_gpu, explain) -> None:
    import_code(code_path)
    if explain < 0:
        msg.fail("--explain must be >= 0 (the number of top words per record)", exits=EXIT_FATAL)
    keep = [f.strip() for f in keep_fields.split(",") if f.strip()]
    kwargs = dict(
        text_field=text_field, id_field=id_field or None, keep_fields=keep,
        input_format=input_format, batch_size=batch_size, resume=resume,
        overwrite=overwrite, quiet=quiet, explain=explain,
    )
    try:
        if engine == "local":
            setup_gpu(use_gpu, silent=quiet)
            summary = classify(model, inputs, output, n_process=n_process, **kwargs)
        elif engine == "ray":
            from ..classify.ray import classify_ray

            summary = classify_ray(model, inputs, output, address=address, num_actors=num_actors, **kwargs)
        else:
            raise BatchError(f"Unknown engine '{engine}', expected 'local' or 'ray'")
    except BatchError as e:
        msg.fail(str(e), exits=EXIT_FATAL)
        return
    except KeyboardInterrupt as e:  # before the first record: nothing was written
        msg.warn("Interrupted before any record was written.")
        raise typer.Exit(code=EXIT_TERMINATED if isinstance(e, Terminated) else EXIT_INTERRUPTED)
    _report(summary, quiet)
    raise typer.Exit(code=summary.exit_code)


def _report(summary: Summary, quiet: bool) -> None:
    if summary.interrupted:
        msg.warn(
            "Interrupted. Everything written so far is complete; rerun the same "
            "command with --resume to continue."
        )
    if quiet:
        return
    rows = [
        ("Records read", summary.read),
        ("Classified", summary.classified),
        ("Errors", summary.errors),
        ("Truncated (over nlp.max_length)", summary.truncated),
        ("Skipped (already done, --resume)", summary.skipped),
        ("Docs/s", f"{summary.docs_per_second:.1f}"),
        ("Output", str(summary.output)),
    ]
    msg.table(rows, title="lstm-classify summary")
    if summary.errors or summary.previous_errors:
        msg.warn(
            f"{summary.errors + summary.previous_errors} record(s) could not be classified, "
            f"see {summary.errors_path} (exit status {EXIT_RECORD_ERRORS})"
        )
    elif not summary.interrupted:
        msg.good(f"All records classified (exit status {EXIT_OK})")


__all__ = ["classify_cli", "EXIT_OK", "EXIT_FATAL", "EXIT_RECORD_ERRORS", "EXIT_INTERRUPTED", "EXIT_TERMINATED"]
