"""spacy-lstm: Keras 3 LSTM components for spaCy v3.

Importing this package is never required: spaCy finds the factories, architectures,
readers and CLI commands through the entry points declared in setup.py.
"""
__version__ = "0.1.0"


def __getattr__(name):
    """`spacy_lstm.render_explanations`, imported on first use."""
    if name == "render_explanations":
        from .render import render_explanations

        return render_explanations
    raise AttributeError(f"module 'spacy_lstm' has no attribute {name!r}")
