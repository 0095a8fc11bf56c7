"""Worker processes of ``nlp.pipe(n_process=...)`` die with the batch job.

spaCy forks its workers and, when the parent stops, joins them: a worker still busy with
queued batches makes Ctrl-C hang, and a parent killed with SIGKILL leaves them running. Inside
:func:`workers_die_with_parent`, forked children ask the kernel for SIGKILL when their parent
dies (Linux ``PR_SET_PDEATHSIG``) and ignore Ctrl-C, and SIGINT/SIGTERM in the parent kill them
before the interruption unwinds spaCy's generator. A local Ray that the Ray engine started
is watched by a reaper process (:func:`reap_when_gone`) that stops it when the job dies.
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


# The reaper: a small process of its own session that outlives a SIGKILLed driver and then
# stops the processes that driver started (Ray's head: gcs_server, raylet, ... and, through
# them, its workers). psutil's Process objects notice a reused pid, so nothing else is hit.
_REAPER = """
import sys, time
sys.path.insert(0, sys.argv[1])  # where the driver found psutil (Ray ships its own copy)
import psutil
try:
    driver = psutil.Process(int(sys.argv[2]))
except psutil.Error:  # already gone
    driver = None
started = []
for pid in sys.argv[3:]:
    try:
        started.append(psutil.Process(int(pid)))
    except psutil.Error:
        pass
def alive(p):
    if p is None:
        return False
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False
victims = {p.pid: p for p in started}
while alive(driver):  # keep the list of their descendants current: they die with their parents
    for p in started:
        try:
            victims.update((c.pid, c) for c in p.children(recursive=True))
        except psutil.Error:
            pass
    time.sleep(0.5)
victims = list(victims.values())
for p in victims:
    try:
        p.terminate()
    except psutil.Error:
        pass
_, left = psutil.wait_procs(victims, timeout=5)
for p in left:
    try:
        p.kill()
    except psutil.Error:
        pass
"""


def child_pids() -> Set[int]:
    """The pids of this process's descendants."""
    import psutil

    return {p.pid for p in psutil.Process().children(recursive=True)}


def reap_when_gone(pids: Set[int]) -> Optional["subprocess.Popen"]:
    """Start the reaper for ``pids`` (processes this job started, e.g. a local Ray), so that
    they stop also when the job is killed with SIGKILL; stop it with ``reaper.kill()`` once
    they were shut down normally. None where psutil is missing or there is nothing to watch."""
    import subprocess

    try:
        import psutil  # Ray depends on it (and ships a copy); the reaper needs it
    except ImportError:
        return None
    if not pids:
        return None
    psutil_home = os.path.dirname(os.path.dirname(os.path.abspath(psutil.__file__)))
    return subprocess.Popen(
        [sys.executable, "-c", _REAPER, psutil_home, str(os.getpid()), *map(str, sorted(pids))],
        start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
