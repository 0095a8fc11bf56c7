"""lstm_generator with carried LSTM state: stream scoring, truncated backpropagation through
time over PlainTextStreams.v1, and resuming (optimizer state, a growing unit table)."""
import numpy
import pytest
import spacy
from spacy.training import Example

from spacy_lstm.generator.architecture import grow_unit_table, stream_nll, unit_index
from spacy_lstm.generator.streams import CHAR_COUNTS_KEY, STREAM_KEY, PlainTextStreams
from spacy_lstm.model_attrs import get_shim

TINY = {"seq_length": 25, "stateful_training": True, "state_reset_rate": 0.0, "model": {"lstm_width": 32, "embedding_dim": 8}}
# A random 150-character pattern, repeated: within a window of 25 from a zero state the first
# characters cannot be told; with the state carried from the previous window they can.
PATTERN = "".join(numpy.random.default_rng(0).choice(list("abcdefghij"), 150))


def nats(logits, target):
    shifted = logits - logits.max()
    return float(numpy.log(numpy.exp(shifted).sum()) - shifted[target])


@pytest.fixture(scope="module")
def trained():
    nlp = spacy.blank("en")
    gen = nlp.add_pipe("lstm_generator", config=TINY)
    docs = [nlp.make_doc(PATTERN * 8) for _ in range(4)]
    examples = [Example(d, d) for d in docs]
    optimizer = nlp.initialize(lambda: examples)
    optimizer.learn_rate = 0.01
    for _ in range(6):
        nlp.update(examples, sgd=optimizer)
    return nlp, gen, optimizer


def test_stream_nll_equals_step_by_step_reference(trained):
    _, gen, _ = trained
    shim, index = get_shim(gen.model), unit_index(gen.model)
    ids = index.encode(list(PATTERN[:40]))
    logits, states = shim.feed(ids[None, :1])
    reference = 0.0
    for t in range(1, len(ids)):
        reference += nats(logits[0], ids[t])
        logits, states = shim.feed(ids[None, t : t + 1], states)
    got = stream_nll(shim, [ids, ids[:9]], 7, 4)  # windows of 7, two streams side by side
    assert numpy.isfinite(got).all()
    assert got[0] == pytest.approx(reference, rel=1e-4)


def test_scorer_reports_stream_and_window_bpc(trained):
    nlp, _, _ = trained
    scores = nlp.evaluate([Example(d, d) for d in [nlp.make_doc(PATTERN * 3)]])
    assert numpy.isfinite(scores["lstm_bpc"]) and numpy.isfinite(scores["lstm_window_bpc"])
    # the carried state knows where in the pattern a window starts; a zero state does not
    assert scores["lstm_bpc"] < scores["lstm_window_bpc"]


def test_carried_state_lowers_the_second_windows_loss(trained):
    _, gen, _ = trained
    shim, index = get_shim(gen.model), unit_index(gen.model)
    ids = index.encode(list(PATTERN[:51]))
    first, second = (ids[None, :25], ids[None, 1:26]), (ids[None, 25:50], ids[None, 26:51])
    _, states = shim.stream_nll(*first)
    carried, _ = shim.stream_nll(*second, states)
    reset, _ = shim.stream_nll(*second)
    assert carried.sum() < reset.sum()


def test_streams_reader_pieces_are_contiguous(tmp_path):
    (tmp_path / "a.txt").write_text("0123456789" * 30, encoding="utf8")
    nlp = spacy.blank("en")
    reader = PlainTextStreams(tmp_path, streams=3, piece_size=7, seed=1)
    examples = list(reader(nlp))
    marks = [eg.reference.user_data[STREAM_KEY] for eg in examples]
    assert examples[0].reference.user_data[CHAR_COUNTS_KEY] == {str(i): 30 for i in range(10)}
    assert [m[1] for m in marks[:6]] == [0, 1, 2, 0, 1, 2]
    for stream in range(3):
        pieces = [m for m in marks if m[1] == stream]
        assert all(a[3] == b[2] for a, b in zip(pieces, pieces[1:]))  # each starts where the last ended
    text = reader.text
    assert all(eg.reference.text == text[m[2] : m[3]] for eg, m in zip(examples, marks))
    with pytest.raises(ValueError, match="lower `streams`"):
        list(PlainTextStreams(tmp_path, streams=1000)(nlp))


def test_stream_batches_carry_rows_and_keep_untrained_units(tmp_path):
    (tmp_path / "a.txt").write_text(PATTERN * 4, encoding="utf8")
    nlp = spacy.blank("en")
    gen = nlp.add_pipe("lstm_generator", config=TINY)
    reader = PlainTextStreams(tmp_path, streams=2, piece_size=30, seed=0)
    examples = list(reader(nlp))
    nlp.initialize(lambda: examples)
    first = gen._stream_batch(examples[:2])  # 30 units per row: one window of 25, 5 kept
    second = gen._stream_batch(examples[2:4])  # 5 kept + 30 new: one window, 10 kept
    assert not first[3].any() and second[3].all()  # the rows continue their streams
    assert first[0].shape == second[0].shape == (1, 2, 25) and first[2].all()
    index = unit_index(gen.model)
    stream0 = examples[0].reference.text + examples[2].reference.text
    assert second[0][0, 0].tolist() == index.encode(list(stream0[25:50])).tolist()
    assert second[1][0, 0].tolist() == index.encode(list(stream0[26:51])).tolist()
    # rows are matched by stream, not by their order in the batch
    assert gen._stream_batch([examples[5], examples[4]])[3].all()
    # a piece that does not follow the row's last one (6 and 7 skipped) starts it afresh
    assert not gen._stream_batch([examples[8], examples[9]])[3].any()


def test_state_reset_rate_restarts_a_share_of_rows(tmp_path):
    (tmp_path / "a.txt").write_text(PATTERN * 80, encoding="utf8")
    nlp = spacy.blank("en")
    gen = nlp.add_pipe("lstm_generator", config={**TINY, "state_reset_rate": 0.25})
    reader = PlainTextStreams(tmp_path, streams=8, piece_size=50, seed=0)
    examples = list(reader(nlp))
    nlp.initialize(lambda: examples)
    steps = [gen._stream_batch(examples[i : i + 8])[3] for i in range(0, len(examples) - 8, 8)]
    kept = numpy.concatenate(steps[1:])  # the first step has no state to keep
    assert 0.6 < kept.mean() < 0.9  # about 3 in 4 rows carry their state, the rest restart


@pytest.mark.parametrize("rate", [-0.1, 1.5])
def test_state_reset_rate_must_be_a_share(rate):
    with pytest.raises(ValueError, match="state_reset_rate.*from 0 to 1"):
        spacy.blank("en").add_pipe("lstm_generator", config={"state_reset_rate": rate})


def test_resume_keeps_adam_state(trained, tmp_path):
    nlp, gen, optimizer = trained
    before = get_shim(gen.model).get_optimizer_state()
    nlp.to_disk(tmp_path / "model")
    loaded = spacy.load(tmp_path / "model").get_pipe("lstm_generator")
    restored = get_shim(loaded.model).get_optimizer_state()
    assert set(restored) == set(before) and restored["steps"][0] > 0
    assert any(name.startswith("momentum/") for name in restored)
    for name in before:
        numpy.testing.assert_array_equal(restored[name], before[name])
    # the first step after loading continues the count and the moments
    examples = [Example(d, d) for d in [nlp.make_doc(PATTERN * 2)]]
    loaded.update(examples, sgd=optimizer)
    after = get_shim(loaded.model).get_optimizer_state()
    assert after["iterations/all"][0] == before["iterations/all"][0] + 12  # 300 units: 12 windows of 25


def test_unit_table_grows_and_keeps_old_rows(trained):
    _, gen, _ = trained
    shim = get_shim(gen.model)
    old_units = gen.units
    old = shim.get_weights()
    old_state = shim.get_optimizer_state()
    assert grow_unit_table(gen.model, set("abcXYZ")) == ["X", "Y", "Z"]
    assert gen.units == old_units + ["X", "Y", "Z"]
    new = shim.get_weights()
    n = len(old_units)
    for path, array in old.items():
        if path.endswith("embedding/embeddings"):
            numpy.testing.assert_array_equal(new[path][:n], array)
            assert new[path].shape[0] == n + 3
        elif path.endswith("logits/kernel"):
            numpy.testing.assert_array_equal(new[path][:, :n], array)
        else:
            numpy.testing.assert_array_equal(new[path][..., :n] if path.endswith("logits/bias") else new[path], array)
    state = shim.get_optimizer_state()  # restored at the next step: moments of old rows kept
    momentum = next(k for k in old_state if k.startswith("momentum/") and k.endswith("embedding/embeddings"))
    numpy.testing.assert_array_equal(state[momentum], old_state[momentum])


def test_real_word_share_on_a_fixed_sample():
    from spacy_lstm.generator.generation import real_word_share

    training = "ROMEO: What light through yonder window breaks?\nIt is the east."
    assert real_word_share(["What light is thy window", "the eest"], training) == pytest.approx(5 / 7)
    assert real_word_share(["", "  "], training) == 0.0
