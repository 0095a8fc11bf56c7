"""Worker processes of ``nlp.pipe(n_process=...)`` die with the batch job.

spaCy forks its workers and, when the parent stops, joins them: a worker still busy with
queued batches makes Ctrl-C hang, and a parent killed with SIGKILL leaves them running. Inside
:func:`workers_die_with_parent`, forked children ask the kernel for SIGKILL when their parent
dies (Linux ``PR_SET_PDEATHSIG``) and ignore Ctrl-C, and SIGINT/SIGTERM in the parent kill them
before the interruption unwinds spaCy's generator.
"""
import contextlib
import ctypes
import multiprocessing
import os
import signal
import sys
from typing import Iterator, Optional, Set

_PR_SET_PDEATHSIG = 1
_active_parent: Optional[int] = None
_registered = False


def _in_child() -> None:
    if _active_parent is None:
        return
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when workers stop
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass
    if os.getppid() != _active_parent:  # the parent died before prctl took effect
        os._exit(1)


def _kill(pids: Set[int]) -> None:
    for proc in multiprocessing.active_children():
        if proc.pid in pids:
            proc.kill()


@contextlib.contextmanager
def workers_die_with_parent(enabled: bool = True) -> Iterator[None]:
    global _active_parent, _registered
    if not enabled:
        yield
        return
    if not _registered:
        os.register_at_fork(after_in_child=_in_child)
        _registered = True
    before = {p.pid for p in multiprocessing.active_children()}

    def interrupt(signum, frame, previous={}):
        _kill({p.pid for p in multiprocessing.active_children()} - before)
        handler = previous[signum]
        if callable(handler):
            handler(signum, frame)
        raise KeyboardInterrupt()

    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    interrupt.__defaults__ = (previous,)
    for sig in previous:
        signal.signal(sig, interrupt)
    _active_parent = os.getpid()
    try:
        yield
    except BaseException:
        _kill({p.pid for p in multiprocessing.active_children()} - before)
        raise
    finally:
        _active_parent = None
        for sig, handler in previous.items():
            signal.signal(sig, handler)
