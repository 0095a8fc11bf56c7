"""Test accuracy of the v2 architecture's n-gram path on its own (no LSTM), on the splits the
accuracy benchmark cached, to see what the LSTM residual adds on each corpus.

    python benchmarks/ngram_path_alone.py WORKDIR/CORPUS [WORKDIR/CORPUS ...]

WORKDIR/CORPUS is a folder that `scripts/benchmark_textcat.py --workdir WORKDIR` filled with
corpus_s0, corpus_s1, ... (train.spacy and test.spacy each). The n-gram settings are read
from the model section of --config (configs/textcat_lstm.cfg), exclusive classes (as every
benchmark corpus is).
"""
import argparse
import inspect
import time
import warnings
from pathlib import Path

import numpy
import spacy
from spacy.tokens import DocBin
from spacy.util import load_config

from spacy_lstm.textcat.architecture import build_lstm_textcat_v2
from spacy_lstm.textcat.featurize import doc_ngrams
from spacy_lstm.textcat.ngram_model import fit_ngram_model, ngram_logits

ROOT = Path(__file__).resolve().parents[1]


def load(path: Path, vocab):
    docs = list(DocBin().from_disk(path).get_docs(vocab))
    labels = sorted(docs[0].cats)
    return docs, numpy.array([[doc.cats.get(label, 0.0) for label in labels] for doc in docs])


def model_settings(config: Path) -> dict:
    """The [components.*.model] block of the (last) text classifier in the config, over the
    v2 architecture's defaults (without building the model, which would import TensorFlow)."""
    cfg = load_config(config)
    given = cfg["components"][cfg["nlp"]["pipeline"][-1]]["model"]
    defaults = {k: p.default for k, p in inspect.signature(build_lstm_textcat_v2).parameters.items()}
    return {**defaults, **given, "ngram_model": "fitted"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpora", nargs="+", type=Path)
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "textcat_lstm.cfg")
    args = parser.parse_args()
    m = model_settings(args.config)
    vocab = spacy.blank("en").vocab
    warnings.filterwarnings("ignore")
    for corpus in args.corpora:
        accuracies = []
        for split in sorted(corpus.glob("corpus_s*")):
            train, y_train = load(split / "train.spacy", vocab)
            test, y_test = load(split / "test.spacy", vocab)
            start = time.perf_counter()
            fit = fit_ngram_model(
                doc_ngrams(train, m), y_train, exclusive=True, n_buckets=m["bow_length"], ngram_size=m["bow_ngram_size"],
                char_ngrams=m["bow_char_ngrams"], C_values=m["bow_C"], weightings=m["bow_weightings"], n_folds=m["bow_folds"],
            )
            seconds = time.perf_counter() - start  # featurising and fitting: the n-gram part of initialize
            logits = ngram_logits(fit.weights, fit.bias, doc_ngrams(test, m))
            accuracies.append(float((logits.argmax(axis=1) == y_test.argmax(axis=1)).mean()))
            print(f"{corpus.name} {split.name}: {accuracies[-1]:.4f} ({seconds:.1f} s to fit) {fit.choice['candidates']}", flush=True)
        if accuracies:
            print(f"{corpus.name}: {numpy.mean(accuracies):.3f} ± {numpy.std(accuracies, ddof=1) if len(accuracies) > 1 else 0:.3f} over {len(accuracies)} splits")


if __name__ == "__main__":
    main()
