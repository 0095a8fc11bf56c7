"""The command-line interface: `spacy lstm-classify` (classify.py) and `spacy lstm-generate`
(generate.py), registered on spaCy's CLI through the `spacy_cli` entry points, and the same
commands as `python -m spacy_lstm classify|generate` and `spacy-lstm` (spacy_lstm/__main__.py).
"""
