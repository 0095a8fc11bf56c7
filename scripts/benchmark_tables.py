"""The accuracy benchmark's tables: mean and spread over splits, one markdown row per system,
and the README's table, in which a run replaces only the rows of the corpora and systems it ran.
Used by scripts/benchmark_textcat.py."""
import json
import re
from pathlib import Path
from typing import Dict, List, Tuple

import numpy

SYSTEMS = {
    "lstm": "lstm_textcat (configs/textcat_lstm.cfg)",
    "lstm_pure": "lstm_textcat, bow_ngram_size = 0 (LSTM alone)",
    "bow1": "spaCy TextCatBOW.v3, unigrams (efficiency quickstart)",
    "bow2": "spaCy TextCatBOW.v3, uni+bigrams",
    "ensemble": "spaCy TextCatEnsemble.v2 (accuracy quickstart, no vectors)",
    "keras": "raw Keras model.fit, the lstm row's network",
    "keras_pure": "raw Keras model.fit, the lstm_pure row's network",
    "lstm_pretrained": "lstm_textcat from a language model (textcat_lstm_pretrained.cfg)",
}
MULTILABEL_SYSTEMS = {  # the same systems, as a multilabel table names them
    "lstm": "lstm_textcat_multilabel (configs/textcat_lstm_multilabel.cfg)",
    "lstm_pure": "lstm_textcat_multilabel, bow_ngram_size = 0 (LSTM alone)",
    "bow1": "spaCy textcat_multilabel, TextCatBOW.v3 unigrams (efficiency quickstart)",
    "bow2": "spaCy textcat_multilabel, TextCatBOW.v3 uni+bigrams",
    "ensemble": "spaCy textcat_multilabel, TextCatEnsemble.v2 (accuracy quickstart, no vectors)",
}
README_START, README_END = "<!-- benchmark:start -->", "<!-- benchmark:end -->"


def system_name(key: str, multilabel: bool) -> str:
    return (MULTILABEL_SYSTEMS if multilabel else SYSTEMS)[key]


def summarise(runs: List[dict]) -> dict:
    """Mean and standard deviation over the splits of every figure."""
    out = {"splits": len(runs), "stopped_by_budget": any(r.get("stopped_by_budget") for r in runs)}
    for field in ("accuracy", "macro_f", "macro_auc", "train_seconds", "docs_per_second"):
        if any(r.get(field) is None for r in runs):  # macro_auc: not recorded before stop 20
            continue
        values = numpy.asarray([r[field] for r in runs], dtype="float64")
        out[field] = float(values.mean())
        out[field + "_std"] = float(values.std(ddof=1)) if len(values) > 1 else 0.0
    return out


def table(name: str, summary: Dict[str, dict], header: bool = True, multilabel: bool = False) -> str:
    """Markdown rows, one per system; the best headline score in bold: test accuracy for
    exclusive classes, macro F for multilabel (where accuracy is not defined)."""
    rows = summary_rows(name, summary, multilabel)
    return (table_header(multilabel) + "\n" if header else "") + corpus_rows(rows, multilabel)


def summary_rows(name: str, summary: Dict[str, dict], multilabel: bool) -> Dict[str, str]:
    """{system name: its markdown row, not yet bolded} for one corpus's summary."""
    headline, second = ("macro_f", "macro_auc") if multilabel else ("accuracy", "macro_f")
    n_splits = max(s["splits"] for s in summary.values())
    rows = {}
    for key, s in summary.items():
        system = system_name(key, multilabel)
        only = f" ({s['splits']} split{'s' if s['splits'] > 1 else ''} only)" if s["splits"] < n_splits else ""
        spread = f" ± {s[headline + '_std']:.3f}" if s["splits"] > 1 else ""
        other = f"{s[second]:.3f}" if second in s else "-"
        budget = " (budget)" if s["stopped_by_budget"] else ""
        rows[system] = (
            f"| {name} | {system}{only} | {s[headline]:.3f}{spread} | {other} | {s['train_seconds']:.0f} s{budget} "
            f"| {s['docs_per_second']:.0f} |"
        )
    return rows


def table_header(multilabel: bool) -> str:
    scores = "macro F | macro AUC" if multilabel else "test accuracy | macro F"
    return f"| corpus | system | {scores} | train time | predict docs/s |\n|---|---|---|---|---|---|"


# Tables: {multilabel: {corpus name: {system: its row}}}, the corpus name as in
# benchmark_<name>.json, the system as the row names it (SYSTEMS / MULTILABEL_SYSTEMS).
Tables = Dict[bool, Dict[str, Dict[str, str]]]


def row_cells(row: str) -> List[str]:
    return [cell.strip() for cell in row.strip().strip("|").split("|")]


def row_key(row: str) -> Tuple[str, str]:
    """(corpus name, system) of a table row: the cells without "(N docs, K splits)" and "(1 split only)"."""
    corpus, system = row_cells(row)[:2]
    return corpus.split(" (")[0], re.sub(r" \(\d+ splits? only\)$", "", system)


def folder_tables(folder: Path) -> Tables:
    """The rows of every benchmark_*.json in the folder."""
    tables: Tables = {False: {}, True: {}}
    for path in sorted(folder.glob("benchmark_*.json")):
        data = json.loads(path.read_text())
        multilabel = data.get("multilabel", False)
        name = f"{data['name']} ({data['n_docs']} docs, {data['splits']} split{'s' if data['splits'] > 1 else ''})"
        tables[multilabel][data["name"]] = summary_rows(name, data["summary"], multilabel)
    return tables


def corpus_rows(rows: Dict[str, str], multilabel: bool) -> str:
    """One corpus's rows in the SYSTEMS order, the best headline score in bold."""
    names = list((MULTILABEL_SYSTEMS if multilabel else SYSTEMS).values())
    ordered = [rows[name] for name in names if name in rows] + [rows[name] for name in rows if name not in names]

    def headline(row: str) -> float:
        return float(row_cells(row)[2].strip("*").split()[0])

    best = max(headline(row) for row in ordered)
    lines = []
    for row in ordered:
        cells = row_cells(row)
        score = cells[2].strip("*")
        cells[2] = f"**{score}**" if headline(row) == best else score
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def summary_text(tables: Tables) -> str:
    """One table for the exclusive-class benchmarks, one for the multilabel ones; corpora by name."""

    def rows(kind: bool) -> str:
        return table_header(kind) + "\n" + "".join(corpus_rows(tables[kind][name], kind) for name in sorted(tables[kind]))

    text = (
        "Test accuracy (mean ± std over random 80/10/10 splits), macro F, training time and prediction speed "
        "(2 CPU cores). Regenerate: `spacy project run benchmark . --vars.dataset NAME`.\n\n" + rows(False)
    )
    if tables[True]:
        text += (
            "\nMultilabel: `configs/textcat_lstm_multilabel.cfg` against spaCy's `textcat_multilabel` quickstarts, "
            "macro F at each system's threshold (0.5) and macro AUC. Regenerate: `spacy project run benchmark . "
            "--vars.dataset NAME --vars.config textcat_lstm_multilabel`.\n\n" + rows(True)
        )
    return text


def rebuild_summary(folder: Path) -> str:
    """OUTPUT_DIR/benchmark.md from the folder's benchmark_*.json."""
    text = summary_text(folder_tables(folder))
    (folder / "benchmark.md").write_text(text, encoding="utf8")
    return text


def readme_tables(block: str) -> Tables:
    """The rows of the README's benchmark block; the multilabel table is the one after "Multilabel:"."""
    tables: Tables = {False: {}, True: {}}
    multilabel = False
    for line in block.splitlines():
        multilabel = multilabel or line.startswith("Multilabel:")
        if line.startswith("| ") and len(row_cells(line)) >= 6 and row_cells(line)[0] != "corpus":
            corpus, system = row_key(line)
            tables[multilabel].setdefault(corpus, {})[system] = line
    return tables


def update_readme(readme: Path, folder: Path) -> None:
    """Replace the README's rows of the systems and corpora that the folder holds; keep the others,
    so that benchmarking one corpus, or one system of it, does not drop the rest of the table
    (split k is the same split in every run)."""
    content = readme.read_text(encoding="utf8")
    if README_START not in content or README_END not in content:
        raise SystemExit(f"{readme} has no {README_START} ... {README_END} block to replace")
    head, rest = content.split(README_START, 1)
    block, tail = rest.split(README_END, 1)
    tables = readme_tables(block)
    for kind, corpora in folder_tables(folder).items():
        for corpus, rows in corpora.items():
            tables[kind].setdefault(corpus, {}).update(rows)
    readme.write_text(f"{head}{README_START}\n{summary_text(tables)}{README_END}{tail}", encoding="utf8")
