"""Benchmark of `lstm_generator` on the Shakespeare corpus (not a test).

    python scripts/make_corpus.py shakespeare corpus/shakespeare
    python benchmarks/generator.py --as-shipped --training-only
    python benchmarks/generator.py --corpus corpus/shakespeare --budget 900

(a) Train the char model (configs/generator_char.cfg: Embedding(64) + 2 x LSTM(256) with dropout
    0.2, windows of 100, 64 windows per step, Adam 4e-3) through the component's update loop
    for a fixed wall-clock budget; report held-out bits per character (the dev text read as 16
    streams with the state carried, and cut into windows of 100, every character after the first
    scored once) and characters trained per second. Then the same for raw Keras `model.fit` of
    the same network (the trained component's embedding, width, depth and dropout; batch 64,
    Adam at --keras-lr, default 2e-3, Keras' usual rate; 4e-3 is the component's) in the same
    budget. --as-shipped: the recipe trains the config's own max_steps (its schedule ends there) and
    raw Keras gets the wall-clock time that took; --chars N: both train on N characters (the
    schedule ends at the step that reaches N). With --budget the schedule still ends at the
    config's max_steps: past it the shipped rate is 0, so prefer --as-shipped.
(b) Generation speed, chars/s: stateful (one LSTM step per character) vs re-feeding the last 40
    characters to `predict_on_batch` for every character (textgenrnn / Keras example way).
(c) n=16 samples as one batch vs 16 one-after-another.
Medians of --repeats runs for (b) and (c).

    python benchmarks/generator.py --skip-training --model training/generator/model-best

skips (a) and runs (b) and (c) on an already trained pipeline (--model; without it a model is
trained through the component for --budget seconds, default 60 with --skip-training, and (a)'s
figures are not reported).
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy

import spacy
from spacy.util import load_config, minibatch

from spacy_lstm.generator.architecture import stream_nll, unit_index
from spacy_lstm.generator.generation import cut_windows
from spacy_lstm.generator.lm_shim import LanguageModelShim
from spacy_lstm.keras.backend import keras
from spacy_lstm.keras.networks import build_language_model

ROOT = Path(__file__).resolve().parent.parent
LN2 = numpy.log(2.0)


def heldout_bpc(nll_fn, ids, seq_length=100, batch=64):
    inputs, targets, weights = cut_windows(ids, seq_length)
    total = 0.0
    for s in range(0, len(inputs), batch):
        total += float((nll_fn(inputs[s : s + batch], targets[s : s + batch]) * weights[s : s + batch]).sum())
    return total / weights.sum() / LN2


def heldout_stream_bpc(shim, ids, seq_length=100, streams=16):
    """The dev text as `streams` contiguous parts, each read as one stream with the LSTM state
    carried from window to window (as generation reads it): only the first unit of each part
    is predicted from a zero state."""
    parts = numpy.array_split(ids, streams)
    return float(stream_nll(shim, parts, seq_length, streams).sum()) / sum(len(p) - 1 for p in parts) / LN2


def train_component(corpus: Path, budget: float, overrides=None, max_chars=None, config_name="generator_char", max_steps=None):
    """Train through the component's update loop for `budget` seconds, or until `max_chars`
    characters were trained on, or (`max_steps`) for that many steps."""
    overrides = {"paths.train": str(corpus / "train"), "paths.dev": str(corpus / "dev"), **(overrides or {})}
    config = load_config(ROOT / "configs" / f"{config_name}.cfg", overrides=overrides, interpolate=False)
    nlp = spacy.util.load_model_from_config(config, auto_fill=True)
    resolved = nlp.config.interpolate()
    from spacy.util import registry

    reader = registry.resolve(resolved["corpora"])["train"]
    optimizer = registry.resolve({"o": resolved["training"]["optimizer"]})["o"]
    nlp.initialize(lambda: reader(nlp), sgd=optimizer)
    gen = nlp.get_pipe("lstm_generator")
    n_chunks = resolved["training"]["batcher"]["size"]
    chars = steps = 0
    start = None
    done = False
    while not done:
        for batch in minibatch(reader(nlp), n_chunks):
            before = gen.n_units_trained
            nlp.update(batch, sgd=optimizer)
            optimizer.step_schedules()  # as spacy train does after each step
            if start is None:  # first step traces the graph: not counted
                start = time.perf_counter()
                continue
            chars += gen.n_units_trained - before  # characters trained on (targets)
            steps += 1
            if max_steps is not None:
                if steps >= max_steps:
                    done = True
                    break
            elif (max_chars is None and time.perf_counter() - start >= budget) or (max_chars and chars >= max_chars):
                done = True
                break
    elapsed = time.perf_counter() - start
    return nlp, gen, chars / elapsed, steps, elapsed


class TimeLimit(keras.callbacks.Callback):
    def __init__(self, budget, max_batches=None):
        super().__init__()
        self.budget = budget
        self.max_batches = max_batches
        self.start = None
        self.batches = 0

    def on_train_batch_end(self, batch, logs=None):
        if self.start is None:
            self.start = time.perf_counter()
            return
        self.batches += 1
        if self.max_batches is not None:
            if self.batches >= self.max_batches:
                self.model.stop_training = True
        elif time.perf_counter() - self.start >= self.budget:
            self.model.stop_training = True


NETWORK_SETTINGS = ("embedding_dim", "lstm_width", "lstm_depth", "dropout")


def network_settings(nlp):
    """The trained component's network settings, so that raw Keras builds the same network."""
    model = nlp.config["components"]["lstm_generator"]["model"]
    return {key: model[key] for key in NETWORK_SETTINGS}


def train_keras(train_ids, vocab_size, budget, network, seq_length=100, batch_size=64, max_chars=None, learn_rate=2e-3):
    inputs, targets, _ = cut_windows(train_ids, seq_length)
    inputs, targets = inputs[:-1], targets[:-1]  # drop the padded last window
    model = build_language_model(vocab_size=vocab_size, **network)
    model.compile(optimizer=keras.optimizers.Adam(learn_rate), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    limit = TimeLimit(budget, None if max_chars is None else -(-max_chars // (batch_size * seq_length)))
    model.fit(inputs, targets, batch_size=batch_size, epochs=1000, shuffle=True, callbacks=[limit], verbose=0)
    elapsed = time.perf_counter() - limit.start
    return model, limit.batches * batch_size * seq_length / elapsed, limit.batches


def windowed_generation(model, seed_ids, n_chars, window=40, rng=None):
    """textgenrnn / keras.io lstm_text_generation: re-run the last `window` units per unit."""
    ids = list(seed_ids)
    for _ in range(n_chars):
        logits = model.predict_on_batch(numpy.asarray([ids[-window:]], dtype="int32"))[0, -1]
        p = numpy.exp(logits - logits.max())
        p[:2] = 0
        ids.append(int(rng.choice(len(p), p=p / p.sum())))
    return ids


# Recipes compared by --chars: overrides of configs/generator_char.cfg (which ships "stateful").
WINDOWED = {
    "components.lstm_generator.stateful_training": False,
    "corpora.train": {
        "@readers": "spacy_lstm.PlainTextCorpus.v1", "path": "${paths.train}", "chunk_size": 2000,
        "jsonl_field": "text", "limit": 0, "shuffle": True, "seed": "${system.seed}",
    },
    "training.max_epochs": 0,
    "training.batcher.size": 4,
}
DECAY = {"@schedules": "warmup_linear.v1", "warmup_steps": 20}  # total_steps: the run's steps
VARIANTS = {
    "stateful": {},
    # the shipped schedule falls to 0 over the last quarter of the steps; this one stays at 4e-3
    "constant": {"training.optimizer.learn_rate": 0.004},
    "windowed": WINDOWED,
    # the shipped size before 2 x 256 with dropout 0.2
    "1x256": {"components.lstm_generator.model.lstm_depth": 1, "components.lstm_generator.model.dropout": 0.0},
    "2x256_nodropout": {"components.lstm_generator.model.dropout": 0.0},
    # twice the updates per character: 32 streams, 32 pieces a step
    "stateful_32": {"corpora.train.streams": 32, "training.batcher.size": 32},
    "constant_2e-3": {"training.optimizer.learn_rate": 0.002},  # Keras' usual rate, constant
    # the share of rows restarted from a zero state each step (generation starts from one)
    "reset_0": {"components.lstm_generator.state_reset_rate": 0.0},
    "reset_0.1": {"components.lstm_generator.state_reset_rate": 0.1},
    "reset_0.25": {"components.lstm_generator.state_reset_rate": 0.25},
    # the layers in bfloat16 (keras/precision.py; faster on a CPU with AVX512_BF16) vs float32
    "bf16": {"components.lstm_generator.model.dtype_policy": "mixed_bfloat16"},
    "f32": {"components.lstm_generator.model.dtype_policy": "float32"},
    # the learning rate warmed up over 20 steps, then decayed linearly to 0 at the last step
    # (with --chars, the steps that make that many characters; else the config's max_steps)
    "decay": {"training.optimizer.learn_rate": dict(DECAY, initial_rate=0.004)},
    "decay_6e-3": {"training.optimizer.learn_rate": dict(DECAY, initial_rate=0.006)},
    "decay_8e-3": {"training.optimizer.learn_rate": dict(DECAY, initial_rate=0.008)},
    # stop 23's regularisation and rate checks at 20.48M characters (all within noise of "stateful")
    "dropout_0.3": {"components.lstm_generator.model.dropout": 0.3},
    "lr_6e-3": {"training.optimizer.learn_rate.rate": 0.006},
    # windows of 50: twice the updates per character, the state still carried across windows
    "seq50": {"components.lstm_generator.seq_length": 50, "corpora.train.piece_size": 50},
    "decay_384": {"training.optimizer.learn_rate": dict(DECAY, initial_rate=0.004), "components.lstm_generator.model.lstm_width": 384},
}


STREAMS = 64  # generator_char.cfg: 64 streams, one piece of each a step


def chars_per_step(variant: str) -> int:
    return STREAMS * VARIANTS[variant].get("corpora.train.piece_size", 100)


def with_schedule_length(overrides, steps=None):
    """The run's learning-rate schedule ends at `steps` (default: the config's max_steps):
    the shipped decay_at_end's and a warmup_linear variant's total_steps."""
    if steps is None:
        steps = load_config(ROOT / "configs" / "generator_char.cfg", interpolate=False)["training"]["max_steps"]
    overrides = {**overrides, "training.max_steps": steps}
    schedule = overrides.get("training.optimizer.learn_rate")
    if schedule is None:
        overrides["training.optimizer.learn_rate.total_steps"] = steps
    elif isinstance(schedule, dict):
        overrides["training.optimizer.learn_rate"] = {**schedule, "total_steps": steps}
    return overrides


def dev_bpc(gen, dev_ids):
    shim = gen.model.shims[0]
    return heldout_stream_bpc(shim, dev_ids), heldout_bpc(shim.nll, dev_ids)


def run_training_comparison(args):
    """(a): the component's update loop vs raw Keras model.fit, same wall-clock budget (or,
    with --chars, the same number of training characters, for every recipe in --variants)."""
    dev_text = "".join(p.read_text(encoding="utf8") for p in sorted((args.corpus / "dev").glob("*.txt")))
    train_text = "".join(p.read_text(encoding="utf8") for p in sorted((args.corpus / "train").glob("*.txt")))
    what = f"{args.chars:,} chars" if args.chars else "the config's max_steps" if args.as_shipped else f"{args.budget:.0f}s"
    for name in args.variants.split(","):
        overrides = with_schedule_length(VARIANTS[name], -(-args.chars // chars_per_step(name)) if args.chars else None)
        max_steps = overrides["training.max_steps"] if args.as_shipped else None
        nlp, gen, ours_cps, ours_steps, ours_seconds = train_component(args.corpus, args.budget, overrides, args.chars, max_steps=max_steps)
        index = unit_index(gen.model)
        dev_ids = index.encode(list(dev_text))
        stream, window = dev_bpc(gen, dev_ids)
        print(f"(a) lstm_generator {name}: {what}, {ours_steps} steps, {ours_cps:,.0f} chars/s, held-out {stream:.3f} bits/char (stream), {window:.3f} (windows of 100)", flush=True)
    if args.skip_keras:
        return nlp, gen
    if args.as_shipped:  # raw Keras gets the wall-clock time that the last recipe took
        what, args.budget = f"{ours_seconds:.0f}s", ours_seconds
        print(f"    ({ours_steps} steps took {ours_seconds:.0f}s, evaluations not counted: raw Keras fit gets as long)", flush=True)
    network = network_settings(nlp)
    keras_model, keras_cps, keras_steps = train_keras(
        index.encode(list(train_text)), len(index.table), args.budget, network, max_chars=args.chars, learn_rate=args.keras_lr
    )
    import tensorflow as tf

    def keras_nll(x, y):
        return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=keras_model.predict_on_batch(x)).numpy()

    keras_bpc = heldout_bpc(keras_nll, dev_ids)
    keras_stream = heldout_stream_bpc(LanguageModelShim(lambda: keras_model), dev_ids)
    print(f"    raw Keras fit, same network as the last recipe {network} (Adam {args.keras_lr:g}): {what}, {keras_steps} steps, {keras_cps:,.0f} chars/s, held-out {keras_stream:.3f} bits/char (stream), {keras_bpc:.3f} (windows of 100)")
    print(f"    training speed ratio (last recipe / Keras fit): {ours_cps / keras_cps:.2f} (target >= 1.0)", flush=True)
    return nlp, gen


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=ROOT / "corpus" / "shakespeare")
    parser.add_argument("--budget", type=float, default=900.0, help="training seconds for each of (a)'s two runs")
    parser.add_argument("--chars", type=int, default=None, help="(a): train every recipe and Keras on this many characters instead of --budget seconds")
    parser.add_argument("--variants", default="stateful", help=f"(a): comma-separated recipes of {sorted(VARIANTS)}")
    parser.add_argument("--keras-lr", type=float, default=2e-3, help="(a): raw Keras fit's Adam learning rate")
    parser.add_argument("--training-only", action="store_true", help="stop after (a)")
    parser.add_argument("--as-shipped", action="store_true", help="(a): train each recipe for the config's max_steps, and raw Keras fit for the time the last one took")
    parser.add_argument("--skip-keras", action="store_true", help="(a): compare the recipes only, without raw Keras fit")
    parser.add_argument("--gen-length", type=int, default=400)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-training", action="store_true", help="skip (a): only (b) and (c)")
    parser.add_argument("--model", type=Path, default=None, help="a trained pipeline for (b) and (c) (implies --skip-training)")
    args = parser.parse_args()
    if args.model is not None:
        args.skip_training = True
    if args.model is None and not (args.corpus / "train").exists():
        raise SystemExit(f"{args.corpus}/train not found: run python scripts/make_corpus.py shakespeare {args.corpus}")

    if args.model is not None:
        nlp = spacy.load(args.model)
        gen = nlp.get_pipe("lstm_generator")
        print(f"(a) skipped; (b) and (c) use {args.model}", flush=True)
    elif args.skip_training:
        budget = args.budget if "--budget" in sys.argv else 60.0
        nlp, gen, _, steps, _ = train_component(args.corpus, budget)
        print(f"(a) skipped; (b) and (c) use a model trained for {budget:.0f}s ({steps} steps)", flush=True)
    else:
        nlp, gen = run_training_comparison(args)
        if args.training_only:
            return
    shim = gen.model.shims[0]
    index = unit_index(gen.model)

    # (b) generation speed, same trained network both ways
    L = args.gen_length
    prompt = "ROMEO:"
    stateful, windowed = [], []
    gen.generate(prompt, max_length=5, seed=0)  # trace
    windowed_generation(shim.network, index.encode(list(prompt)), 3, rng=numpy.random.default_rng(0))  # trace
    for r in range(args.repeats):
        t = time.perf_counter()
        gen.generate(prompt, max_length=L, temperature=1.0, seed=r)
        stateful.append(L / (time.perf_counter() - t))
        n_win = max(50, L // 4)
        t = time.perf_counter()
        windowed_generation(shim.network, index.encode(list(prompt)), n_win, rng=numpy.random.default_rng(r))
        windowed.append(n_win / (time.perf_counter() - t))
    s, w = statistics.median(stateful), statistics.median(windowed)
    print(f"(b) generation: stateful {s:,.0f} chars/s, 40-char window predict_on_batch {w:,.0f} chars/s, speed-up {s / w:.1f}x (target >= 20x)", flush=True)

    # (c) n=16 batched vs sequential
    batched, sequential = [], []
    gen.generate(prompt, n=16, max_length=5, seed=0)
    for r in range(args.repeats):
        t = time.perf_counter()
        gen.generate(prompt, n=16, max_length=L, temperature=1.0, seed=r)
        batched.append(time.perf_counter() - t)
        t = time.perf_counter()
        for i in range(16):
            gen.generate(prompt, n=1, max_length=L, temperature=1.0, seed=r * 16 + i)
        sequential.append(time.perf_counter() - t)
    b, q = statistics.median(batched), statistics.median(sequential)
    print(f"(c) 16 samples x {L} chars: one batch {b:.2f}s ({16 * L / b:,.0f} chars/s), one after another {q:.2f}s ({16 * L / q:,.0f} chars/s), speed-up {q / b:.1f}x (target >= 5x)")
    print("\nSample (temperature 0.7, seed 1):\n" + prompt + gen.generate(prompt, max_length=300, temperature=0.7, seed=1)[0])


if __name__ == "__main__":
    main()
