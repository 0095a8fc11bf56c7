"""Import Keras 3 on the TensorFlow backend, once, before anything else touches it.

Keras picks its backend at import time from KERAS_BACKEND; we default it to TensorFlow but
respect a user's explicit choice. TensorFlow's C++ start-up chatter is quietened too.
"""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

if int(keras.__version__.split(".")[0]) < 3:  # pragma: no cover - guarded by setup.py
    raise ImportError(
        f"spacy-lstm needs Keras 3 (found {keras.__version__}). "
        "Install tensorflow>=2.16 and do not set TF_USE_LEGACY_KERAS."
    )
if keras.backend.backend() != "tensorflow":
    raise ImportError(
        f"spacy-lstm runs its networks on the TensorFlow backend, but KERAS_BACKEND is "
        f"'{keras.backend.backend()}'. Unset KERAS_BACKEND or set it to 'tensorflow'."
    )

__all__ = ["keras", "tf"]
