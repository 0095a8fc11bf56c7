"""``spacy lstm-explain``: which words drove each prediction, for a file of documents, as one
HTML page (``.html``) or one JSONL line per document (``.jsonl``).

Registered on spaCy's CLI app through the ``spacy_cli`` entry point
(``lstm-explain = spacy_lstm.cli.explain:explain_cli``); also ``spacy-lstm explain``.
"""
from itertools import islice
from pathlib import Path
from typing import List, Optional

import srsly
from wasabi import msg

from spacy.cli._util import Arg, Opt, app, import_code

from ..classify.inputs import FORMATS, RecordReader, expand_inputs
from ..classify.job import EXIT_FATAL, EXIT_OK, load_pipeline
from ..errors import BatchError
from ..textcat.explain import DEFAULT_STEPS

OUTPUT_SUFFIXES = (".html", ".htm", ".jsonl")


@app.command("lstm-explain")
def explain_cli(
    # fmt: off
    model: str = Arg(..., help="Pipeline name or path (e.g. training/model-best)"),
    inputs: List[str] = Arg(..., help="Input files, globs or folders, as for lstm-classify"),
    output: Path = Arg(..., help="explanations.html (one page) or explanations.jsonl (one line per document)"),
    text_field: str = Opt("text", "--text-field", "-t", help="JSON field / CSV column holding the text"),
    id_field: str = Opt("id", "--id-field", "-i", help="JSON field / CSV column holding the record id"),
    input_format: str = Opt("auto", "--input-format", "-f", help=f"Input format of files ({', '.join(FORMATS)}); auto picks by extension"),
    limit: int = Opt(0, "--limit", "-l", help="Explain at most this many documents (0: all)"),
    label: Optional[str] = Opt(None, "--label", help="Explain this label (default: each document's top label)"),
    steps: int = Opt(DEFAULT_STEPS, "--steps", help="Integrated-gradients quadrature nodes (more only where a document's completeness check fails)"),
    component: Optional[str] = Opt(None, "--component", help="Name of the classifier in the pipeline (default: the first LSTM classifier)"),
    batch_size: int = Opt(256, "--batch-size", "-b", help="Documents explained at a time"),
    code_path: Optional[Path] = Opt(None, "--code", "-c", help="Path to Python file with additional code (registered functions) to be imported"),
    # fmt: on
):
    """
    Explain a classifier's predictions: a weight per token (positive: towards
    the predicted label), the sum of the n-gram path's exact share and the
    LSTM's integrated gradients. Bad input records are skipped and counted.
    """
    import_code(code_path)
    try:
        written, skipped = explain_to_file(
            model, inputs, output, text_field=text_field, id_field=id_field or None, input_format=input_format,
            limit=limit, label=label, steps=steps, component=component, batch_size=batch_size,
        )
    except (BatchError, ValueError) as e:
        msg.fail(str(e), exits=EXIT_FATAL)
        return
    if skipped:
        msg.warn(f"{skipped} bad record(s) skipped (run lstm-classify to see why)")
    msg.good(f"Explained {written} document(s): {output}")
    raise SystemExit(EXIT_OK)


def explain_to_file(
    model, inputs: List[str], output: Path, *, text_field: str = "text", id_field: Optional[str] = "id",
    input_format: str = "auto", limit: int = 0, label: Optional[str] = None, steps: int = DEFAULT_STEPS,
    component: Optional[str] = None, batch_size: int = 256,
):
    """Explain the records of `inputs` into `output`; returns (documents written, bad records)."""
    from ..render import render_explanations
    from ..textcat.component import find_classifier

    output = Path(output)
    suffix = output.suffix.lower()
    if suffix not in OUTPUT_SUFFIXES:
        raise BatchError(f"Cannot tell the output format of '{output}': name it .html (one page) or .jsonl.")
    if limit < 0 or batch_size < 1:
        raise BatchError("--limit must be >= 0 and --batch-size >= 1")
    nlp = load_pipeline(model) if isinstance(model, (str, Path)) else model
    classifier = find_classifier(nlp, component)
    reader = RecordReader(expand_inputs(inputs, input_format), text_field=text_field, id_field=id_field)
    skipped = 0

    def good():
        nonlocal skipped
        for record in reader:
            if record.error is None:
                yield record
            else:
                skipped += 1

    records = islice(good(), limit) if limit else good()
    output.parent.mkdir(parents=True, exist_ok=True)
    ids, explanations, written = [], [], 0
    with output.open("w", encoding="utf8") as out:
        while True:
            batch = list(islice(records, batch_size))
            if not batch:
                break
            docs = list(nlp.pipe([r.text for r in batch]))
            for record, explanation in zip(batch, classifier.explain(docs, label, steps=steps)):
                written += 1
                if suffix == ".jsonl":  # streamed: memory stays flat
                    out.write(srsly.json_dumps({"id": record.id, **explanation.to_dict()}) + "\n")
                else:
                    ids.append(str(record.id))
                    explanations.append(explanation)
        if suffix != ".jsonl":
            out.write(render_explanations(explanations, page=True, jupyter=False, titles=ids, page_title=f"Explanations: {model}"))
    return written, skipped
