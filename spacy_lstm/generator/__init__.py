"""`lstm_generator`: reader.py (raw text for training), streams.py
(the text as parallel streams for stateful training), generation.py (units, windows, stop
strings, the sampling loop), sampling.py (the NumPy reference sampler and its graph twin),
lm_shim.py (the Keras language-model shim), architecture.py (the registered model) and
component.py (the spaCy component).
"""
