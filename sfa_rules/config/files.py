"""Reading one configuration file safely: regular files only, of a bounded size.

A ``*.yaml`` name below ``rules/`` or ``territories/`` may be something else than a
file: a FIFO (reading it waits for a writer forever), a device (``/dev/zero`` never
ends), or a symlink to one. Only regular files are read (a symlink to a regular file
is one); anything else, or a file over ``MAX_FILE_BYTES``, is refused with a code
(``not-a-file``, ``file-too-large``) instead of hanging or filling the memory.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

# A large generated configuration (tens of thousands of territories) is a few MB.
MAX_FILE_BYTES = 32 * 1024 * 1024

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


class FileRefused(Exception):
    """The file was not read: ``code`` and a message saying why and what to do."""

    def __init__(self, code: str, message: str, line: int = 1, column: int = 1) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.line, self.column = line, column


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def read_text(path: Path) -> str:
    """The UTF-8 text (a BOM dropped) of a regular file of at most MAX_FILE_BYTES.

    Raises ``FileRefused`` for anything else (``unreadable-file`` at the first byte that
    is not UTF-8); OSError passes.
    The file is opened without blocking (a FIFO opens at once) and checked on the open
    descriptor, so a file swapped after the check is not read either.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise FileRefused(
                "not-a-file",
                f"{_kind(info.st_mode)}, not a regular file: only regular files are read "
                "(remove it, or rename it so it does not end in .yaml/.yml)",
            )
        if info.st_size > MAX_FILE_BYTES:
            raise FileRefused("file-too-large", _too_large(info.st_size))
        chunks: list[bytes] = []
        size = 0
        while chunk := os.read(fd, 1 << 20):
            size += len(chunk)
            if size > MAX_FILE_BYTES:  # grew while being read
                raise FileRefused("file-too-large", _too_large(size))
            chunks.append(chunk)
    finally:
        os.close(fd)
    data = b"".join(chunks)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _not_utf8(data, exc.start) from None


def _not_utf8(data: bytes, at: int) -> FileRefused:
    """Where the first byte that is not UTF-8 is (line, column in characters), and why."""
    start = data.rfind(b"\n", 0, at) + 1
    line = data.count(b"\n", 0, at) + 1
    column = len(data[start:at].decode("utf-8", "replace")) + 1
    return FileRefused(
        "unreadable-file", f"the file is not UTF-8: byte {data[at:at + 1]!r} here cannot be "
        "read (a file saved as Latin-1 or Windows-1252?): save it as UTF-8", line, column)


def _too_large(size: int) -> str:
    return (f"the file has {size:,} bytes, more than the {MAX_FILE_BYTES // (1024 * 1024)} MiB "
            "a configuration file may have: split it into several files")


def unreadable(path: Path, exc: OSError) -> str:
    """Why a file cannot be read, in words, with what to do."""
    if exc.errno == errno.ELOOP:
        return "a loop of symlinks: point the link at a file"
    if path.is_symlink() and not path.exists():
        return (f"a symlink to {os.readlink(path)}, which does not exist: fix the link, "
                "or remove it")
    if isinstance(exc, PermissionError):
        return "permission denied: give the user running sfa read access to it"
    return f"cannot be read: {exc.strerror or exc}"
