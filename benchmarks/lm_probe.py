"""Does a language model's state carry the labels? A linear probe (a benchmark, not a test).

    python benchmarks/lm_probe.py corpus/mr training/lm/model-best [--sizes 300,1000,0] [--seeds 3]

Fine-tuning a classifier from a language model (configs/textcat_lstm_pretrained.cfg) can only
build on what the language model learned. This measures it directly: a logistic regression (C
chosen on 3 folds) on the language model's LSTM states, pooled over each doc (max, mean and the
last state: ULMFiT's concat pooling), fitted on n labelled training docs of CORPUS (a stratified
sample per seed, as scripts/learning_curve.py draws it) and scored on its test split, for
- the trained language model;
- the same network with fresh random weights: the control, a bag of random projections of the
  words, which is what any LSTM starts from;
- the classifier's n-gram path alone (textcat_lstm_pretrained.cfg's settings), on the same docs.
A probe no better than the control says that the language model has not learned what the
labels need, and no fine-tuning recipe will find much there.
"""
import argparse
import sys
import warnings
from pathlib import Path

import numpy
import spacy

from ngram_path_alone import load, model_settings
from spacy_lstm.keras.backend import keras
from spacy_lstm.keras.networks import build_language_model
from spacy_lstm.keras.weights_io import assign_weights
from spacy_lstm.textcat.featurize import doc_hashes, doc_ngrams, truncate
from spacy_lstm.textcat.ngram_model import fit_ngram_model, ngram_logits
from spacy_lstm.textcat.pretrained import load_language_model

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from learning_curve import stratified_sample  # noqa: E402

C_VALUES = [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0]


def encoder(lm, trained: bool):
    """token ids -> the last LSTM layer's states, with the language model's weights or fresh ones."""
    keras.utils.set_random_seed(0)
    settings = lm.settings
    network = build_language_model(
        vocab_size=len(lm.table), embedding_dim=settings["embedding_dim"], lstm_width=settings["lstm_width"],
        lstm_depth=settings["lstm_depth"], dropout=0.0,
    )
    if trained:
        assign_weights(network, lm.weights)
    return keras.Model(network.input, network.get_layer(f"lstm_{settings['lstm_depth'] - 1}").output[0])


def pooled_states(states_of, lm, docs, max_length: int, batch_size: int = 64) -> numpy.ndarray:
    """[n_docs, 3 x width]: max, mean and last LSTM state of each doc (at most max_length units)."""
    ids = [truncate(lm.table.lookup(h), max_length, "head_tail") for h in doc_hashes(docs, lm.settings["attr"])]
    ids = [i if len(i) else numpy.ones(1, dtype=i.dtype) for i in ids]  # an empty doc reads one unknown unit
    order = numpy.argsort([len(i) for i in ids])
    out = numpy.zeros((len(docs), 3 * lm.settings["lstm_width"]), dtype="float32")
    for start in range(0, len(docs), batch_size):
        rows = order[start : start + batch_size]
        lengths = numpy.array([len(ids[r]) for r in rows])
        batch = numpy.zeros((len(rows), lengths.max()), dtype="int32")
        for k, r in enumerate(rows):
            batch[k, : lengths[k]] = ids[r]
        states = numpy.asarray(states_of(batch))  # padding comes after the real units: it cannot change them
        real = (numpy.arange(batch.shape[1])[None, :] < lengths[:, None])[..., None]
        maximum = numpy.where(real, states, -numpy.inf).max(axis=1)
        mean = (states * real).sum(axis=1) / lengths[:, None]
        out[rows] = numpy.concatenate([maximum, mean, states[numpy.arange(len(rows)), lengths - 1]], axis=1)
    return out


def sample_rows(docs, size: int, seed: int) -> numpy.ndarray:
    """The indices of the stratified sample scripts/learning_curve.py draws (every doc for 0)."""
    position = {id(doc): i for i, doc in enumerate(docs)}
    return numpy.array(sorted(position[id(doc)] for doc in stratified_sample(docs, size, seed)))


def probe_accuracy(train_x, train_y, test_x, test_y, seed: int) -> float:
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    probe = make_pipeline(StandardScaler(), LogisticRegressionCV(Cs=C_VALUES, cv=3, max_iter=2000, random_state=seed))
    probe.fit(train_x, train_y)
    return float((probe.predict(test_x) == test_y).mean())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", type=Path, help="a folder with train.spacy and test.spacy")
    parser.add_argument("language_model", type=Path, help="a token-level lstm_generator pipeline")
    parser.add_argument("--sizes", default="300,1000,0", help="labelled training docs per fit (0: all)")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "textcat_lstm_pretrained.cfg")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    vocab = spacy.blank("en").vocab
    train, truths = load(args.corpus / "train.spacy", vocab)
    test, y_test = load(args.corpus / "test.spacy", vocab)
    y_train, y_test = truths.argmax(axis=1), y_test.argmax(axis=1)
    lm = load_language_model(args.language_model)
    settings = model_settings(args.config)
    features = {}
    for name, trained in (("language model", True), ("random weights (control)", False)):
        states_of = encoder(lm, trained)
        features[name] = tuple(pooled_states(states_of, lm, docs, settings["max_length"]) for docs in (train, test))
    ngrams_train, ngrams_test = doc_ngrams(train, settings), doc_ngrams(test, settings)
    results = {}
    for size in [int(s) for s in args.sizes.split(",") if s]:
        for seed in range(args.seeds if 0 < size < len(train) else 1):
            rows = sample_rows(train, size, seed)
            for name, (x_train, x_test) in features.items():
                accuracy = probe_accuracy(x_train[rows], y_train[rows], x_test, y_test, seed)
                results.setdefault((len(rows), name), []).append(accuracy)
            fit = fit_ngram_model(
                [ngrams_train[r] for r in rows], truths[rows], exclusive=True,
                n_buckets=settings["bow_length"], ngram_size=settings["bow_ngram_size"], char_ngrams=settings["bow_char_ngrams"],
                C_values=settings["bow_C"], weightings=settings["bow_weightings"], n_folds=settings["bow_folds"],
            )
            logits = ngram_logits(fit.weights, fit.bias, ngrams_test)
            results.setdefault((len(rows), "n-gram path"), []).append(float((logits.argmax(axis=1) == y_test).mean()))
            print(f"n={len(rows)} seed={seed}: " + ", ".join(f"{k[1]} {v[-1]:.4f}" for k, v in results.items() if k[0] == len(rows)), flush=True)
    names = ["language model", "random weights (control)", "n-gram path"]
    print(f"\nLinear probe on {args.corpus} ({len(test)} test docs), language model {args.language_model}:\n")
    print("| labelled docs | " + " | ".join(names) + " |\n" + "|---" * (len(names) + 1) + "|")
    for size in sorted({k[0] for k in results}):
        cells = [f"{numpy.mean(results[size, name]):.3f} ± {numpy.std(results[size, name]):.3f}" for name in names]
        print(f"| {size} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
