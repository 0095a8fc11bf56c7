"""Everything that knows about Keras and TensorFlow: the networks (keras.io style) and their
NumPy twins, the losses, the mapping of spaCy's optimizer settings onto Keras, fork safety,
and the shim that puts a Keras network behind thinc's `Model`.

Nothing is imported here, so that `import spacy_lstm.keras.fork` (or any TF-free module)
stays cheap; the modules that need TensorFlow import it through `.backend`.
"""
