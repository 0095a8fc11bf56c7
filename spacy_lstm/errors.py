"""Errors with messages that name the problem and the fix (kept free of TensorFlow imports)."""


class ModelDataError(ValueError):
    """Saved weights that are missing, corrupted or do not fit the configured network."""


class NotInitializedError(RuntimeError):
    """A component used before `nlp.initialize()` / training or loading."""
