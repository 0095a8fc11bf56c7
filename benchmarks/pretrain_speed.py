"""Training speed of the pretraining language model (configs/pretrain_lm.cfg, token level)
through spaCy's update loop, against raw Keras `model.fit` of the same network on the same
windows, in one run (a benchmark, not a test).

    python scripts/unlabelled_text.py corpus/unlabelled --corpora corpus/mr corpus/cornell corpus/bbc
    python benchmarks/pretrain_speed.py corpus/unlabelled [--steps 150]

Both train the same number of steps on the same units: the component on the config's batches
(spacy.batch_by_words, windows of seq_length cut from each text), raw Keras on those texts cut
into the same windows, as many windows a step as hold the tokens of an average component step, Adam
at the config's rate. The first step of each (graph tracing) is not timed. Reports tokens
trained per second and the held-out loss (nats per token, dev.jsonl cut into the same windows)
of each; the component must be at least as fast (issue 9's target).
"""
import argparse
import sys
import time
from pathlib import Path

import numpy
import spacy
from spacy.util import load_config, registry

from generator import TimeLimit  # benchmarks/generator.py: stops fit after N timed steps
from spacy_lstm.generator.architecture import model_units, unit_index
from spacy_lstm.generator.generation import cut_windows
from spacy_lstm.keras.backend import keras
from spacy_lstm.keras.networks import build_language_model
from spacy_lstm.model_attrs import get_shim

ROOT = Path(__file__).resolve().parents[1]


def windows(model, docs, seq_length: int):
    """(inputs, targets, weights) of every text, cut as the component cuts them."""
    index = unit_index(model)
    parts = [cut_windows(index.encode(model_units(model, doc)), seq_length) for doc in docs]
    return tuple(numpy.concatenate([p[i] for p in parts]) for i in range(3))


def mean_nll(logits_of, inputs, targets, weights, batch_size: int = 64) -> float:
    import tensorflow as tf

    total = 0.0
    for s in range(0, len(inputs), batch_size):
        logits = logits_of(inputs[s : s + batch_size])
        nll = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=targets[s : s + batch_size], logits=logits).numpy()
        total += float((nll * weights[s : s + batch_size]).sum())
    return total / float(weights.sum())


def train_component(corpus: Path, steps: int):
    """The component through nlp.update on the config's batches: (nlp, tokens/s, tokens a step)."""
    overrides = {"paths.train": str(corpus / "train.jsonl"), "paths.dev": str(corpus / "dev.jsonl")}
    config = load_config(ROOT / "configs" / "pretrain_lm.cfg", overrides=overrides, interpolate=False)
    nlp = spacy.util.load_model_from_config(config, auto_fill=True)
    resolved = nlp.config.interpolate()
    reader = registry.resolve(resolved["corpora"])["train"]
    batcher = registry.resolve({"b": resolved["training"]["batcher"]})["b"]
    optimizer = registry.resolve({"o": resolved["training"]["optimizer"]})["o"]
    nlp.initialize(lambda: reader(nlp), sgd=optimizer)
    gen = nlp.get_pipe("lstm_generator")
    done, start, units = 0, None, 0
    while done < steps:
        for batch in batcher(reader(nlp)):
            before = gen.n_units_trained
            nlp.update(batch, sgd=optimizer)
            optimizer.step_schedules()
            if start is None:  # the first step traces the graph
                start = time.perf_counter()
                continue
            units += gen.n_units_trained - before
            done += 1
            if done >= steps:
                break
    elapsed = time.perf_counter() - start
    return nlp, units / elapsed, units / done


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", type=Path, help="a folder with train.jsonl and dev.jsonl (scripts/unlabelled_text.py)")
    parser.add_argument("--steps", type=int, default=150)
    args = parser.parse_args(argv)
    nlp, ours_speed, units_a_step = train_component(args.corpus, args.steps)
    gen = nlp.get_pipe("lstm_generator")
    settings = nlp.config["components"]["lstm_generator"]["model"]
    reader = registry.resolve(nlp.config.interpolate()["corpora"])
    dev = windows(gen.model, [eg.reference for eg in reader["dev"](nlp)], gen.seq_length)
    shim = get_shim(gen.model)
    ours_nll = mean_nll(lambda x: shim.network.predict_on_batch(x), *dev)

    inputs, targets, weights = windows(gen.model, [eg.reference for eg in reader["train"](nlp)], gen.seq_length)
    network = build_language_model(
        vocab_size=len(gen.model.attrs["unit_table"]), embedding_dim=settings["embedding_dim"],
        lstm_width=settings["lstm_width"], lstm_depth=settings["lstm_depth"], dropout=settings["dropout"],
    )
    real_share = float(weights.mean())  # the padding at the end of each text's last window is not trained on
    batch_size = max(1, round(units_a_step / (gen.seq_length * real_share)))  # the component's tokens a step
    learn_rate = float(nlp.config["training"]["optimizer"]["learn_rate"])
    network.compile(optimizer=keras.optimizers.Adam(learn_rate), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    timer = TimeLimit(float("inf"), max_batches=args.steps)  # the first (tracing) step is not timed
    network.fit(inputs, targets, sample_weight=weights, batch_size=batch_size, epochs=1000, shuffle=True, callbacks=[timer], verbose=0)
    keras_speed = timer.batches * batch_size * gen.seq_length * real_share / (time.perf_counter() - timer.start)
    keras_nll = mean_nll(lambda x: network.predict_on_batch(x), *dev)
    print(f"lstm_generator (pretrain_lm.cfg), {args.steps} steps: {ours_speed:,.0f} tokens/s, held-out {ours_nll:.3f} nats/token")
    print(f"raw Keras fit, same network, {batch_size} windows of {gen.seq_length} a step: {keras_speed:,.0f} tokens/s, held-out {keras_nll:.3f} nats/token")
    print(f"speed ratio (component / Keras fit): {ours_speed / keras_speed:.2f} (target >= 1.0)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
