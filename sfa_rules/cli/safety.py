"""The ``sfa`` group's guard: SIGTERM cleaned up like Ctrl-C, a broken stdout in one line.

- Ctrl-C (SIGINT) ends the command with exit 130 and a line saying so, not click's
  ``Aborted!`` and exit 1 (the code of a row in error).

- SIGTERM (``kill``, a CI timeout, systemd stopping a job) raises ``SystemExit(143)``
  in the main thread instead of killing the process on the spot, so that every
  ``finally`` runs: a half-written ``--out`` temporary file is removed and the state
  rolls back to its last committed batch, as on Ctrl-C.
- A stdout that cannot be written (``sfa ... > /dev/full``, a full disk, a closed
  pipe) ends the command with ``sfa: stdout: cannot write: <reason>`` on stderr and
  exit 2, never a traceback, and nothing more is written to it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import sys
import threading
from types import FrameType
from typing import Any, NoReturn

import click

__all__ = ["SafeGroup"]

_WRITE_ERRORS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EPIPE})


def _terminate(signum: int, frame: FrameType | None) -> NoReturn:
    del frame
    signal.signal(signum, signal.SIG_IGN)  # a second SIGTERM must not cut the cleanup short
    with contextlib.suppress(OSError):  # os.write: stderr's buffer may be mid-write
        os.write(2, b"sfa: stopped by SIGTERM (nothing after the last committed batch is kept)\n")
    raise SystemExit(128 + signum)


def _stdout_broken() -> bool:
    """Whether stdout fails to take what it holds (then it is pointed at /dev/null,
    so that the interpreter's own last flush stays quiet)."""
    try:
        sys.stdout.flush()
    except (OSError, ValueError):
        _discard_stdout()
        return True
    return False


def _discard_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


class SafeGroup(click.Group):
    """A click group whose ``main`` adds the guard described in the module docstring."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:  # click would say "Aborted!" and exit 1, a row's code
            with contextlib.suppress(OSError):  # on a terminal, after the ^C it echoed
                os.write(2, b"\n" * os.isatty(2) + b"sfa: stopped by Ctrl-C\n")
            raise SystemExit(128 + signal.SIGINT) from None

    def main(self, *args: Any, **kwargs: Any) -> Any:
        in_main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGTERM, _terminate) if in_main else None
        try:
            return super().main(*args, **kwargs)
        except OSError as exc:
            # a failed flush, or a write-only failure of an unnamed stream (the files
            # sfa writes by name report OutputError or StateError instead)
            if not _stdout_broken() and not (exc.errno in _WRITE_ERRORS and not exc.filename):
                raise
            _discard_stdout()
            click.echo(f"sfa: stdout: cannot write: {exc.strerror or exc}", err=True)
            sys.exit(2)
        finally:
            if in_main:
                signal.signal(signal.SIGTERM, previous)
            _stdout_broken()
