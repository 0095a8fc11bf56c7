"""spacy-lstm: Keras 3 LSTM components for spaCy v3.

Importing this package is never required: spaCy finds the factories, architectures,
readers and CLI commands through the entry points declared in setup.py.
"""
__version__ = "0.1.0"
