"""Many row problems told briefly: counts per code, a few examples each (SPEC §7, §12).

A real export can give thousands of rows with the same problem (every date of an
8,800-row file in another format); one line per row buries the one row that differs.
:func:`by_code` gives, per severity and code, how many rows and the first few, each
as ``file:row: severity: message [code]`` (the form of every record problem), in one
pass over the problems.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

EXAMPLES = 3  # rows shown per code


class RowProblem(Protocol):
    """What a row problem needs to be told: where, which code, what."""

    @property
    def source(self) -> str: ...
    @property
    def row(self) -> int | None: ...
    @property
    def code(self) -> str: ...
    @property
    def message(self) -> str: ...


def line(problem: RowProblem, severity: str) -> str:
    """``file:row: severity: message [code]`` (``-`` for a row it has none, e.g. the state's)."""
    row = "-" if problem.row is None else problem.row
    return f"{problem.source}:{row}: {severity}: {problem.message} [{problem.code}]"


def by_code(errors: Iterable[RowProblem], warnings: Iterable[RowProblem], what: str,
            examples: int = EXAMPLES) -> list[str]:
    """The lines telling ``errors`` and ``warnings`` of ``what`` (``forecast``); none
    when there are none."""
    groups: dict[tuple[str, str], list[RowProblem]] = {}
    counts: dict[tuple[str, str], int] = {}
    for severity, problems in (("error", errors), ("warning", warnings)):
        for problem in problems:
            key = (severity, problem.code)
            count = counts[key] = counts.get(key, 0) + 1
            if count <= examples:
                groups.setdefault(key, []).append(problem)
    if not counts:
        return []
    total = {s: sum(n for (sev, _), n in counts.items() if sev == s) for s in ("error", "warning")}
    head = (f"{what}: {_plural(total['error'], 'error')}, "
            f"{_plural(total['warning'], 'warning')} (per code, with the first rows):")
    out = [head]
    for key in sorted(counts, key=lambda k: (k[0] != "error", -counts[k], k[1])):
        severity, code = key
        out.append(f"  {code}: {_plural(counts[key], severity)}")
        out.extend(f"    {line(problem, severity)}" for problem in groups[key])
        if counts[key] > examples:
            out.append(f"    ... and {counts[key] - examples:,} more")
    return out


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"
