"""Where decisions go: stdout, a file replaced atomically, or a device (SPEC §10).

``open_output(path)`` chooses by what ``path`` names:

- ``None`` or ``-``: stdout;
- a regular file, or nothing yet: written under a temporary name in the same folder,
  flushed to disk and renamed over the target at the end; on any failure (a full
  disk, an exception, Ctrl-C, SIGTERM once the CLI turns it into an exception) the
  temporary file is removed and the old file is left as it was;
- a symlink: followed, and its target (the file it names, resolved through every
  link) is what gets replaced, atomically; the link itself stays;
- a device, FIFO or anything else that is not a regular file (``/dev/null``, a named
  pipe a reader waits on), or a name under ``/dev/`` or ``/proc/`` (``/dev/stdout``,
  ``/dev/fd/3``, whatever they point at): written straight to (appending), never
  replaced;
- a folder: an ``OutputError`` before anything is written.

A write that fails (``ENOSPC``, ``EIO``, a closed pipe, ...) raises ``OutputError``
naming the target and the reason, from the first failing write on: the stream given to
the block converts ``OSError`` so that a caller never mistakes it for an input or
state failure.
"""

from __future__ import annotations

import glob
import os
import secrets
import stat
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TextIO, cast

__all__ = ["STDOUT", "OutputError", "open_output"]

STDOUT = "-"  # the --out value that means stdout


class OutputError(Exception):
    """The output cannot be written (a usage error for the CLI)."""


class _Guarded:
    """A text stream whose failed writes raise ``OutputError`` naming the output."""

    def __init__(self, stream: TextIO, name: str) -> None:
        self._stream = stream
        self._name = name

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except OSError as exc:
            raise self.error(exc) from exc

    def flush(self) -> None:
        try:
            self._stream.flush()
        except OSError as exc:
            raise self.error(exc) from exc

    def error(self, exc: OSError) -> OutputError:
        return OutputError(f"{self._name}: cannot write: {exc.strerror or exc}")


@contextmanager
def open_output(path: str | os.PathLike[str] | None) -> Iterator[TextIO]:
    """A text stream for the decisions (see the module docstring for what ``path`` may
    name). Raises ``OutputError`` when it cannot be created or written."""
    if path is None or os.fspath(path) == STDOUT:
        stdout = _Guarded(sys.stdout, "stdout")
        yield cast(TextIO, stdout)
        stdout.flush()
        return
    name = os.fspath(path)
    try:
        mode = os.stat(name).st_mode  # through symlinks: what would be written
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise OutputError(f"{name}: cannot write: {exc.strerror}") from exc
    if mode is not None and stat.S_ISDIR(mode):  # found now, not after every row
        raise OutputError(f"{name}: cannot write: is a directory")
    if (mode is not None and not stat.S_ISREG(mode)) or _special(name):
        with _straight(name) as stream:
            yield stream
        return
    with _atomic(Path(os.path.realpath(name)), name) as stream:  # a symlink's target
        yield stream


def _special(name: str) -> bool:
    """``/dev/stdout``, ``/dev/fd/3``, ``/proc/self/fd/1``: a descriptor already open,
    maybe onto a regular file (``>> log``) that must not be replaced."""
    return name.startswith("/dev/") or os.path.realpath(name).startswith(("/dev/", "/proc/"))


@contextmanager
def _straight(name: str) -> Iterator[TextIO]:
    """A device or FIFO: opened and written as it is (nothing to replace), appending,
    so that ``--out /dev/stdout`` onto ``>> log`` keeps the log."""
    try:
        raw = open(name, "a", encoding="utf-8", newline="")  # noqa: SIM115
    except OSError as exc:
        raise OutputError(f"{name}: cannot write: {exc.strerror}") from exc
    guarded = _Guarded(raw, name)
    try:
        yield cast(TextIO, guarded)
        guarded.flush()
    finally:
        with suppress(OSError):
            raw.close()


@contextmanager
def _atomic(target: Path, name: str) -> Iterator[TextIO]:
    """A regular file (or a new one): a temporary file renamed over it at the end."""
    _remove_stale(target)
    tmp = target.with_name(f".{target.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
    try:
        # 0o666 lets the umask decide the mode, as for any file the user creates
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as exc:
        raise OutputError(f"{name}: cannot write: {exc.strerror}") from exc
    raw = os.fdopen(fd, "w", encoding="utf-8", newline="")
    guarded = _Guarded(raw, name)
    try:
        yield cast(TextIO, guarded)
        guarded.flush()
        try:
            os.fsync(raw.fileno())
            raw.close()
            with suppress(FileNotFoundError):
                os.chmod(tmp, target.stat().st_mode & 0o7777)  # replacing keeps the mode
            os.replace(tmp, target)
        except OSError as exc:
            raise guarded.error(exc) from exc
    except BaseException:
        with suppress(OSError):
            raw.close()  # its flush may fail again (a full disk): the file goes anyway
        with suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_directory(target.parent)


def _remove_stale(target: Path) -> None:
    """Remove the temporary files of earlier writes of ``target`` whose process is
    gone (a run killed with SIGKILL cannot clean up after itself)."""
    with suppress(OSError):
        for stale in target.parent.glob(f".{glob.escape(target.name)}.*-*.tmp"):
            pid = stale.name[len(target.name) + 2 :].split("-", 1)[0]
            if pid.isdigit() and not _alive(int(pid)):
                with suppress(OSError):
                    stale.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # someone else's process
        return True
    return True


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable (POSIX); harmless where it is not supported."""
    with suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
