"""Errors with messages that name the problem and the fix (kept free of TensorFlow imports)."""


class ModelDataError(ValueError):
    """Saved weights that are missing, corrupted or do not fit the configured network."""


class NotInitializedError(RuntimeError):
    """A component used before `nlp.initialize()` / training or loading."""


class ForkedProcessError(RuntimeError):
    """TensorFlow work asked of a process forked after TensorFlow started (a worker of
    `nlp.pipe(n_process=...)`), where TensorFlow would hang."""

    def __init__(self, task: str):
        super().__init__(
            f"{task} cannot run in a process forked after TensorFlow started (such as a worker "
            "of nlp.pipe(n_process=...)): TensorFlow is not fork-safe. Do it in the main "
            "process (n_process=1), or create the worker processes with the 'spawn' start "
            "method. Forked workers can only predict, through the NumPy twin of the network."
        )
        self.task = task


class BatchError(Exception):
    """A fatal problem of a batch job (bad arguments, unreadable model, refusing to
    overwrite); the CLI reports it and exits with status 1."""
