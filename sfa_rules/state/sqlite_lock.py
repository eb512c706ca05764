"""The run lock of an SQLite state (a `flock` on a sidecar file) and the evidence of
which file a path names."""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Callable

from sfa_rules.state.store import StateError

__all__ = ["RunLock", "file_identity"]


def file_identity(path: str) -> tuple[int, int, int, int] | None:
    """The file at ``path`` as (device, inode, size, mtime in ns), or None if missing."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


class RunLock:
    """An exclusive `flock` on a sidecar file, held for the life of an apply run.

    ``timeout`` None waits as long as it takes; ``on_wait`` is told once, with a
    message naming the holder, when the lock is busy. The holder removes the file
    before it lets the lock go, so none is left behind; a waiter that then obtains the
    lock on the removed file sees that the path names another file (or none) and
    tries again, so two runs never hold "the" lock at once.
    """

    def __init__(
        self, path: str, state: str, timeout: float | None,
        on_wait: Callable[[str], None] | None = None,
    ) -> None:
        self._path = path
        deadline = None if timeout is None else time.monotonic() + timeout
        told = False
        self._fd = self._open(path, state)
        while True:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(self._fd, 32, 0).decode("ascii", "replace").strip()
                busy = f"state {state} is in use by another run (pid {holder or '?'})"
                if deadline is not None and time.monotonic() >= deadline:
                    os.close(self._fd)
                    raise StateError(f"{busy}; waited {timeout:g} s") from None
                if on_wait is not None and not told:
                    on_wait(f"{busy}; waiting for it to finish")
                    told = True
                time.sleep(0.05)
                continue
            if _names(path, self._fd):
                break
            os.close(self._fd)  # the holder removed it while this run waited
            self._fd = self._open(path, state)
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, f"{os.getpid()}\n".encode("ascii"), 0)

    @staticmethod
    def _open(path: str, state: str) -> int:
        try:
            return os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise StateError(f"cannot open state {state}: {e.strerror}") from None

    def release(self) -> None:
        if self._fd >= 0:
            with contextlib.suppress(OSError):
                os.unlink(self._path)  # still locked: nobody else can have made a new one
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = -1


def _names(path: str, fd: int) -> bool:
    """Whether ``path`` still names the file open as ``fd``."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    own = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (own.st_dev, own.st_ino)
