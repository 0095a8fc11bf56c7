"""Fork safety: TensorFlow cannot run in a process forked after it started.

spaCy's `nlp.pipe(n_process=2)` forks its workers. Before every fork, each live shim caches
its weights as NumPy arrays; in the forked child TensorFlow is off limits, and prediction runs
through the NumPy twins of the networks (numpy_networks.py). Each child gets one BLAS thread:
spaCy starts one worker per core, and several BLAS threads per worker would fight over the
same cores. No TensorFlow import here.
"""
import os
import sys
import weakref

from threadpoolctl import threadpool_limits

from ..errors import ForkedProcessError

_LIVE_SHIMS: "weakref.WeakSet" = weakref.WeakSet()
_FORKED = False


def track(shim) -> None:
    """Snapshot this shim's weights before every fork (it must have `snapshot_weights()`)."""
    _LIVE_SHIMS.add(shim)


def _snapshot_before_fork() -> None:
    for shim in list(_LIVE_SHIMS):
        shim.snapshot_weights()


def _mark_forked_child() -> None:
    global _FORKED
    if "tensorflow" in sys.modules:
        _FORKED = True
        threadpool_limits(limits=1, user_api="blas")


os.register_at_fork(before=_snapshot_before_fork, after_in_child=_mark_forked_child)


def tensorflow_usable() -> bool:
    """False in a process forked from one where TensorFlow had already been imported."""
    return not _FORKED


def require_tensorflow(task: str) -> None:
    """Raise the one error for TensorFlow work in a forked process; `task` says what was asked."""
    if _FORKED:
        raise ForkedProcessError(task)
