"""Test accuracy of the v2 architecture's n-gram path on its own (no LSTM), on the splits the
accuracy benchmark cached, to see what the LSTM residual adds on each corpus.

    python benchmarks/ngram_path_alone.py WORKDIR/CORPUS [WORKDIR/CORPUS ...]

WORKDIR/CORPUS is a folder that `scripts/benchmark_textcat.py --workdir WORKDIR` filled with
corpus_s0, corpus_s1, ... (train.spacy and test.spacy each). The settings are those of
configs/textcat_lstm.cfg (LOWER, bigrams, 262,144 buckets, 5,000 tokens, head_tail), exclusive
classes (as every benchmark corpus is).
"""
import argparse
import warnings
from pathlib import Path

import numpy
import spacy
from spacy.tokens import DocBin

from spacy_lstm.textcat.featurize import doc_hashes, hashes_to_ngrams
from spacy_lstm.textcat.ngram_model import fit_ngram_model

SETTINGS = dict(attr="LOWER", max_length=5000, truncation="head_tail", ngram_size=2, n_buckets=262144)


def load(path: Path, vocab):
    docs = list(DocBin().from_disk(path).get_docs(vocab))
    labels = sorted(docs[0].cats)
    return docs, numpy.array([[doc.cats.get(label, 0.0) for label in labels] for doc in docs])


def ngrams(docs):
    s = SETTINGS
    return hashes_to_ngrams(doc_hashes(docs, s["attr"]), s["max_length"], s["truncation"], s["ngram_size"], s["n_buckets"], distinct=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpora", nargs="+", type=Path)
    args = parser.parse_args()
    vocab = spacy.blank("en").vocab
    warnings.filterwarnings("ignore")
    for corpus in args.corpora:
        accuracies = []
        for split in sorted(corpus.glob("corpus_s*")):
            train, y_train = load(split / "train.spacy", vocab)
            test, y_test = load(split / "test.spacy", vocab)
            fit = fit_ngram_model(ngrams(train), y_train, exclusive=True, n_buckets=SETTINGS["n_buckets"], ngram_size=SETTINGS["ngram_size"])
            logits = numpy.stack([fit.weights[ids].sum(axis=0) for ids in ngrams(test)]) + fit.bias
            accuracies.append(float((logits.argmax(axis=1) == y_test.argmax(axis=1)).mean()))
            print(f"{corpus.name} {split.name}: {accuracies[-1]:.4f} {fit.choice['candidates']}", flush=True)
        if accuracies:
            print(f"{corpus.name}: {numpy.mean(accuracies):.3f} ± {numpy.std(accuracies, ddof=1) if len(accuracies) > 1 else 0:.3f} over {len(accuracies)} splits")


if __name__ == "__main__":
    main()
