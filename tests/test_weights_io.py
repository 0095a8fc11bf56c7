"""The weights file: arrays round-trip exactly, and a file that is not ours gets a clear error."""
import numpy
import pytest
import srsly

from spacy_lstm.errors import ModelDataError
from spacy_lstm.keras.weights_io import weights_from_bytes, weights_to_bytes


def test_weights_and_optimizer_state_round_trip_exactly():
    weights = {"net/embedding/embeddings": numpy.arange(12, dtype="float32").reshape(3, 4), "net/dense/bias": numpy.ones(2, "float32")}
    state = {"iterations": numpy.array([7], dtype="int64"), "momentum/net/dense/bias": numpy.full(2, 0.5, "float32")}
    got_weights, got_state = weights_from_bytes(weights_to_bytes(weights, state))
    assert set(got_weights) == set(weights) and set(got_state) == set(state)
    for path, array in {**weights, **state}.items():
        got = got_weights.get(path, got_state.get(path))
        assert got.dtype == array.dtype and numpy.array_equal(got, array)


def test_no_optimizer_state_reads_back_as_none():
    _, state = weights_from_bytes(weights_to_bytes({"w": numpy.zeros(1, "float32")}))
    assert state is None


@pytest.mark.parametrize("data", [b"\xc1 not msgpack", srsly.msgpack_dumps({"format": "keras", "weights": []}), srsly.msgpack_dumps([1, 2])])
def test_foreign_bytes_raise_model_data_error(data):
    with pytest.raises(ModelDataError, match="weights"):
        weights_from_bytes(data)
