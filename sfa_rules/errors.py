"""Problems and errors: the values every other layer reports with."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from difflib import get_close_matches

# What ends a line (str.splitlines), written as an escape: a problem is one line.
_ONE_LINE = {c: ascii(chr(c))[1:-1] for c in (*range(0x0a, 0x0e), 0x1c, 0x1d, 0x1e, 0x85,
                                              0x2028, 0x2029)}


@dataclass(frozen=True, order=True)
class Problem:
    """One configuration problem, at a position in a file.

    Problems compare (and sort) by file, line, column, so tests can assert on them
    and the CLI can print them in file order.
    """

    file: str
    line: int
    column: int
    severity: str  # "error" | "warning"
    code: str  # stable kebab-case word
    message: str

    def __str__(self) -> str:
        """One line, whatever the message quotes (an id holding a line break)."""
        return (
            f"{self.file}:{self.line}:{self.column}: {self.severity}: "
            f"{self.message} [{self.code}]"
        ).translate(_ONE_LINE)

    def to_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
        }


class ConfigError(Exception):
    """The configuration could not be loaded; ``problems`` says every reason."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = sorted(problems)
        errors = [p for p in self.problems if p.severity == "error"]
        head = str(errors[0]) if errors else "invalid configuration"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(head + more)


class RecordError(Exception):
    """A row that cannot be processed: a stable ``code``, a message, the field."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field

    def to_dict(self) -> dict[str, object]:
        return {"code": self.code, "message": self.message, "field": self.field}


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The choice ``word`` most likely meant, or None.

    The same word in another case first, then close spellings; else the one choice
    that has the word as one of its words, ignoring case (``Won`` -> ``Closed Won``:
    exports shorten the names).
    """
    options = list(choices)
    folded = word.strip().casefold()
    close = [c for c in options if c.casefold() == folded][:1]  # the same but for case
    close = close or get_close_matches(word, options, n=1, cutoff=0.6)
    if not close:
        close = [c for c in options
                 if folded and folded in c.casefold().replace("-", " ").replace("_", " ").split()]
    return close[0] if len(close) == 1 else None


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest choice (:func:`closest`), or ''."""
    found = closest(word, choices)
    return f" (did you mean '{found}'?)" if found is not None else ""


def key_hint(word: str, choices: Iterable[str]) -> str:
    """A did-you-mean for an unknown key; with no close one, the keys that are known."""
    options = sorted(set(choices))
    hint = did_you_mean(word, options)
    if hint or not options:
        return hint
    listed = ", ".join(options[:20]) + (", ..." if len(options) > 20 else "")
    return f" (known keys: {listed})"


class EngineUnavailable(RuntimeError):
    """``engine="durable"`` where durable-rules cannot be imported (a usage error).

    Defined here, not beside durable-rules, so that catching it (the CLI does, on
    every command) imports no C extension."""
