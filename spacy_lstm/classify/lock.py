"""One writer per output: ``<output>.lock`` holds an exclusive ``flock`` and its owner's pid
for the whole run.

The kernel drops a ``flock`` when its process dies, however it dies, so a lock left by a
killed run is taken over by the next one (a stale file is not a held lock), and a lock held
by a live run is refused with its pid. The lock is taken before the pipeline loads, so two
runs started together cannot both get past it.
"""
import fcntl
import os
from pathlib import Path
from typing import Optional

from ..errors import BatchError

LOCK_SUFFIX = ".lock"


def lock_path_for(output: Path) -> Path:
    return output.with_name(output.name + LOCK_SUFFIX)


class OutputLock:
    def __init__(self, output: Path):
        self.output = output
        self.path = lock_path_for(output)
        self._fd: Optional[int] = None

    def acquire(self) -> "OutputLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                owner = _read_pid(fd)
                os.close(fd)
                who = f"process {owner}" if owner else "another process"
                raise BatchError(
                    f"Output '{self.output}' is being written by {who} (lock file "
                    f"'{self.path}'). Wait for that run to end, or write to another output."
                ) from None
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:  # else the previous owner removed the file after we opened it: retry
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            self.path.unlink()  # while still holding it: a waiting opener sees a new inode
        except OSError:
            pass
        os.close(self._fd)
        self._fd = None


def _read_pid(fd: int) -> Optional[int]:
    try:
        return int(os.pread(fd, 32, 0).decode("ascii").strip() or 0) or None
    except (OSError, ValueError):
        return None
