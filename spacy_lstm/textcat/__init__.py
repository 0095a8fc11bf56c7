"""`lstm_textcat` and `lstm_textcat_multilabel`: featurize.py (Doc -> network inputs),
architecture.py (the registered model and the truncated-length batcher helper) and
component.py (the spaCy components). Initialising from a trained language model and
explaining predictions belong here too, next to the architecture they work on.
"""
