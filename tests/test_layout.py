"""The import paths of the first release keep working for one more release (with a
DeprecationWarning), and give the same objects as the new homes."""
import importlib

import pytest


@pytest.mark.parametrize(
    "old,name,new",
    [
        ("spacy_lstm.pipeline.textcat", "LSTMTextCategorizer", "spacy_lstm.textcat.component"),
        ("spacy_lstm.pipeline.textcat", "make_lstm_textcat_multilabel", "spacy_lstm.textcat.component"),
        ("spacy_lstm.pipeline.generator", "LSTMGenerator", "spacy_lstm.generator.component"),
        ("spacy_lstm.architectures", "build_lstm_textcat", "spacy_lstm.textcat.architecture"),
        ("spacy_lstm.architectures", "build_lstm_generator", "spacy_lstm.generator.architecture"),
        ("spacy_lstm.architectures", "get_shim", "spacy_lstm.model_attrs"),
        ("spacy_lstm.keras_bridge", "KerasShim", "spacy_lstm.keras.shim"),
        ("spacy_lstm.keras_bridge", "LanguageModelShim", "spacy_lstm.generator.lm_shim"),
    ],
)
def test_old_import_paths_reexport_the_new_homes(old, name, new):
    with pytest.warns(DeprecationWarning, match="deprecated"):
        module = importlib.reload(importlib.import_module(old))
    assert getattr(module, name) is getattr(importlib.import_module(new), name)
