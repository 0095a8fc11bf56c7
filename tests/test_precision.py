"""The dtype policy a network computes in (keras/precision.py) and a bfloat16 lstm_generator."""
import numpy
import pytest
import spacy
from spacy.training import Example

from spacy_lstm.generator.architecture import unit_index
from spacy_lstm.keras import precision
from spacy_lstm.model_attrs import get_shim

TEXT = "the cat sat on the mat. the dog sat on the log. " * 20


def cpuinfo(tmp_path, flags):
    path = tmp_path / "cpuinfo"
    path.write_text(f"processor\t: 0\nmodel name\t: test\nflags\t\t: fpu sse2 {flags}\n\nprocessor\t: 1\n", encoding="utf8")
    return str(path)


@pytest.mark.parametrize("flags,expected", [("avx512f avx512_bf16", True), ("amx_bf16 amx_tile", True), ("avx2 avx512f", False)])
def test_cpu_bfloat16_is_read_from_the_cpu_flags(tmp_path, flags, expected):
    assert precision.cpu_has_bfloat16.__wrapped__(cpuinfo(tmp_path, flags)) is expected


def test_cpu_without_a_flags_line_or_cpuinfo_has_no_bfloat16(tmp_path):
    assert precision.cpu_has_bfloat16.__wrapped__(str(tmp_path / "missing")) is False
    (tmp_path / "empty").write_text("processor : 0\n", encoding="utf8")
    assert precision.cpu_has_bfloat16.__wrapped__(str(tmp_path / "empty")) is False


@pytest.mark.parametrize("has_bf16,expected", [(True, "mixed_bfloat16"), (False, "float32")])
def test_auto_policy_follows_the_cpu(monkeypatch, has_bf16, expected):
    monkeypatch.setattr(precision, "cpu_has_bfloat16", lambda: has_bf16)
    assert precision.resolve_dtype_policy("auto") == expected
    assert precision.resolve_dtype_policy("float32") == "float32"
    assert precision.resolve_dtype_policy("mixed_bfloat16") == "mixed_bfloat16"


def test_unknown_policy_names_the_choices():
    nlp = spacy.blank("en")
    with pytest.raises(ValueError, match="dtype_policy.*float16.*mixed_bfloat16"):
        nlp.add_pipe("lstm_generator", config={"model": {"dtype_policy": "float16"}})


def test_bfloat16_generator_trains_keeps_float32_weights_and_states(tmp_path):
    nlp = spacy.blank("en")
    gen = nlp.add_pipe("lstm_generator", config={
        "seq_length": 20, "stateful_training": True,
        "model": {"lstm_width": 16, "embedding_dim": 8, "dtype_policy": "mixed_bfloat16"},
    })
    examples = [Example(d, d) for d in [nlp.make_doc(TEXT)] * 2]
    optimizer = nlp.initialize(lambda: examples)
    optimizer.learn_rate = 0.02
    bpc0 = nlp(TEXT[:200])._.lstm_bpc
    for _ in range(8):
        nlp.update(examples, sgd=optimizer)
    shim = get_shim(gen.model)
    assert shim.network.get_layer("lstm_0").compute_dtype == "bfloat16"
    assert shim.network.get_layer("logits").compute_dtype == "float32"
    assert all(w.dtype == numpy.float32 for w in shim.network.get_weights())
    _, states = shim.feed(unit_index(gen.model).encode(list("the cat"))[None, :])
    assert all(s.dtype == "float32" for pair in states for s in pair)
    bpc = nlp(TEXT[:200])._.lstm_bpc
    assert numpy.isfinite(bpc) and bpc < bpc0
    assert len(gen.generate("the ", max_length=30, seed=0)[0]) == 30
    # the weights are float32 arrays: the same model computes in float32 after loading
    nlp.to_disk(tmp_path / "model")
    loaded = spacy.load(tmp_path / "model", config={"components": {"lstm_generator": {"model": {"dtype_policy": "float32"}}}})
    assert loaded(TEXT[:200])._.lstm_bpc == pytest.approx(bpc, abs=0.05)
