"""Speed of lstm_textcat against raw Keras on the same network and the same reviews.

(a) training docs/s: spaCy's update loop (length-bucketed batches from
    spacy.batch_by_padded.v1, compiled train step) against `model.fit` on padded arrays;
(b) prediction docs/s: `nlp.pipe` against spaCy's tokenizer + id lookup + `model.predict`.
Both sides use keras.networks.build_text_classifier with identical settings. Prints medians
of `--repeats` runs and the ratios ours / raw Keras (>= 1.0 means we are faster).

    python benchmarks/textcat_speed.py --data corpus/mr/train.spacy --n-docs 4000
--data defaults to corpus/mr/train.spacy (`spacy project run corpus` writes it).
"""
import argparse
import statistics
import time
from pathlib import Path

import numpy
import spacy
from spacy.tokens import DocBin
from spacy.training import Example
from spacy.training.batchers import minibatch_by_padded_size

from spacy_lstm.keras.backend import keras
from spacy_lstm.keras.networks import build_text_classifier
from spacy_lstm.textcat.model import textcat_features

ARCH = dict(
    max_vocab=20000, embedding_dim=128, lstm_width=128, lstm_depth=1, bidirectional=False,
    pooling="last", dropout=0.0, hidden_width=0, max_length=256, truncation="head", bow_ngram_size=0,
)


def load_reviews(data: str, n_docs: int, seed: int = 0):
    nlp = spacy.blank("en")
    if not Path(data).is_file():
        raise SystemExit(f"{data} not found: run `spacy project run corpus` (or pass --data FILE.spacy)")
    docs = list(DocBin().from_disk(data).get_docs(nlp.vocab))
    pairs = [(d.text, max(d.cats, key=d.cats.get)) for d in docs]
    rng = numpy.random.default_rng(seed)
    rng.shuffle(pairs)
    return pairs[:n_docs]


def make_pipeline(pairs):
    nlp = spacy.blank("en")
    nlp.add_pipe("lstm_textcat", config={"model": ARCH})
    labels = sorted({y for _, y in pairs})
    examples = [
        Example.from_dict(nlp.make_doc(t), {"cats": {label: float(label == y) for label in labels}})
        for t, y in pairs
    ]
    nlp.initialize(lambda: examples)
    return nlp, examples, labels


def raw_keras_model(vocab_size, n_labels):
    model = build_text_classifier(
        vocab_size=vocab_size, n_labels=n_labels, embedding_dim=ARCH["embedding_dim"],
        lstm_width=ARCH["lstm_width"], lstm_depth=1, bidirectional=False, dropout=0.0,
        recurrent_dropout=0.0, pooling="last", attention_width=1, hidden_width=0,
    )
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.CategoricalCrossentropy(from_logits=True))
    return model


def padded_arrays(nlp, pairs, labels, width):
    """What a Keras user feeds model.fit: every doc padded to one width."""
    model = nlp.get_pipe("lstm_textcat").model
    seqs = textcat_features(model, [nlp.make_doc(t) for t, _ in pairs])[0]
    x = keras.utils.pad_sequences(seqs, maxlen=width, padding="post", truncating="post")
    y = numpy.asarray([[float(label == yy) for label in labels] for _, yy in pairs], dtype="float32")
    return x, y


def time_ours_training(nlp, examples, padded_size):
    optimizer = nlp.create_optimizer()
    batches = list(minibatch_by_padded_size(examples, size=padded_size, buffer=256, discard_oversize=False))
    nlp.update(batches[0], sgd=optimizer)  # trace the compiled step outside the clock
    start = time.perf_counter()
    for batch in batches:
        nlp.update(batch, sgd=optimizer)
    return len(examples) / (time.perf_counter() - start), len(examples) / len(batches)


def time_raw_training(model, x, y, batch_size):
    model.fit(x[:batch_size], y[:batch_size], batch_size=batch_size, epochs=1, verbose=0)
    start = time.perf_counter()
    model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0, shuffle=True)
    return len(x) / (time.perf_counter() - start)


def time_ours_predict(nlp, texts, batch_size):
    list(nlp.pipe(texts[:batch_size], batch_size=batch_size))
    start = time.perf_counter()
    for _ in nlp.pipe(texts, batch_size=batch_size):
        pass
    return len(texts) / (time.perf_counter() - start)


def time_raw_predict(nlp, model, texts, batch_size, width):
    textcat_model = nlp.get_pipe("lstm_textcat").model
    model.predict(numpy.ones((batch_size, 8), "int32"), batch_size=batch_size, verbose=0)
    start = time.perf_counter()
    docs = [nlp.tokenizer(t) for t in texts]
    x = keras.utils.pad_sequences(textcat_features(textcat_model, docs)[0], maxlen=width, padding="post")
    model.predict(x, batch_size=batch_size, verbose=0)
    return len(texts) / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="corpus/mr/train.spacy", help=".spacy file of labelled reviews")
    parser.add_argument("--n-docs", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--padded-size", type=int, default=4000, help="batch_by_padded size (rows x longest)")
    parser.add_argument("--predict-batch-size", type=int, default=256)
    args = parser.parse_args()

    pairs = load_reviews(args.data, args.n_docs)
    lengths = [len(t.split()) for t, _ in pairs]
    print(f"{len(pairs)} reviews, tokens/doc: median {int(numpy.median(lengths))}, max {max(lengths)}")
    nlp, examples, labels = make_pipeline(pairs)
    vocab_size = len(nlp.get_pipe("lstm_textcat").model.attrs["token_table"])
    texts = [t for t, _ in pairs]
    longest = max(len(s) for s in textcat_features(nlp.get_pipe("lstm_textcat").model, [nlp.make_doc(t) for t in texts])[0])
    # Raw Keras twice: padded to the longest review (its best case) and to a fixed
    # max_length, as keras.io examples do with pad_sequences(maxlen=...).
    widths = {"longest": longest, "fixed": ARCH["max_length"]}
    arrays = {name: padded_arrays(nlp, pairs, labels, width) for name, width in widths.items()}
    print(f"raw Keras padded widths: {widths}")

    results = {"train_ours": [], "predict_ours": []}
    for name in widths:
        results[f"train_raw_{name}"] = []
        results[f"predict_raw_{name}"] = []
    for repeat in range(args.repeats):
        ours, mean_batch = time_ours_training(nlp, examples, args.padded_size)
        results["train_ours"].append(ours)
        results["predict_ours"].append(time_ours_predict(nlp, texts, args.predict_batch_size))
        for name, (x, y) in arrays.items():
            raw_model = raw_keras_model(vocab_size, len(labels))
            results[f"train_raw_{name}"].append(time_raw_training(raw_model, x, y, max(1, round(mean_batch))))
            results[f"predict_raw_{name}"].append(
                time_raw_predict(nlp, raw_model, texts, args.predict_batch_size, widths[name])
            )
        print(f"repeat {repeat + 1}: " + ", ".join(f"{k} {v[-1]:.0f}" for k, v in results.items()))
    med = {k: statistics.median(v) for k, v in results.items()}
    print(f"\nmedians of {args.repeats} repeats (docs/s); mean docs per training batch {mean_batch:.1f} "
          "(raw Keras fit uses the same batch size)")
    for name, width in widths.items():
        print(f"raw Keras padded to {name} ({width} tokens):")
        print(f"  training   ours {med['train_ours']:.0f} / raw fit {med[f'train_raw_{name}']:.0f} = "
              f"ratio {med['train_ours'] / med[f'train_raw_{name}']:.2f}")
        print(f"  prediction ours {med['predict_ours']:.0f} / raw predict {med[f'predict_raw_{name}']:.0f} = "
              f"ratio {med['predict_ours'] / med[f'predict_raw_{name}']:.2f}")


if __name__ == "__main__":
    main()
