"""The run summary: what a run did, in a few lines for stderr (SPEC §10).

Part of the report layer (``report`` re-exports ``Summary``). It reads decisions one
at a time, and keeps only counters, so it costs the same for ten
rows as for ten million.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from sfa_rules.engine.decision import Decision, warning_code
from sfa_rules.errors import Problem

__all__ = ["ASSIGNED_TYPES", "Summary", "problem_summary", "warning_code"]

ASSIGNED_TYPES = frozenset({"lead", "prospect", "customer"})  # the rows that get an owner
TOP = 8  # names shown per line; the rest are counted
ERROR_EXAMPLES = 5  # record errors shown with their file and row


class Summary:
    """Counts over a run's decisions, and the short human text ``render`` gives.

    ``add`` every decision; ``notice`` anything the run wants said once (a rotation
    that restarted, say). Assignment counts cover the rows that get an owner (lead,
    prospect, customer) and are not in error; transaction rows carry their
    customer's owner and are not counted again.
    """

    def __init__(self) -> None:
        self.rows = 0
        self.errors: Counter[str] = Counter()  # record error code -> rows
        self.territories: Counter[str | None] = Counter()  # territory -> assigned rows
        self.owners: Counter[str | None] = Counter()  # owner -> assigned rows
        self.methods: Counter[str] = Counter()  # how: territory, override, kept, ...
        self.transitions: Counter[str] = Counter()  # transition id -> rows
        self.warnings = 0
        self.warning_codes: Counter[str] = Counter()  # warning code -> warnings
        self.notices: list[str] = []
        self.error_examples: list[str] = []

    def add(self, decision: Decision) -> None:
        """Count one decision."""
        self.rows += 1
        if decision.warnings:
            self.warnings += len(decision.warnings)
            for warning in decision.warnings:
                self.warning_codes[warning_code(warning)] += 1
        error = decision.error
        if error:
            code = str(error.get("code"))
            self.errors[code] += 1
            if len(self.error_examples) < ERROR_EXAMPLES:
                where = f"{decision.source}:{decision.row}"
                self.error_examples.append(f"{where}: {code}: {error.get('message')}")
            return
        if decision.type in ASSIGNED_TYPES or (
                decision.type == "follow_up" and decision.assigned_by):  # a reassignment
            self.territories[decision.territory] += 1
            self.owners[decision.owner] += 1
            how = decision.assigned_by
            self.methods[how.partition(":")[0] if how else "unassigned"] += 1
        if decision.transition:
            self.transitions[decision.transition] += 1

    def notice(self, text: str) -> None:
        """Something to say once at the end (repeats are dropped)."""
        if text not in self.notices:
            self.notices.append(text)

    @property
    def error_rows(self) -> int:
        """Rows in error (the CLI exits 1 when there is any)."""
        return sum(self.errors.values())

    def render(self) -> str:
        """A few lines for a person: rows, assignments, transitions, errors, notices."""
        errors = self.error_rows
        head = f"{_n(self.rows)} {_plural(self.rows, 'row')}: {_n(self.rows - errors)} decided"
        head += f", {_n(errors)} in error" if errors else ""
        head += f", {_n(self.warnings)} {_plural(self.warnings, 'warning')}"
        lines = [head]
        if self.owners:
            lines.append("assigned by territory: " + _top(self.territories, "(none)"))
            lines.append("assigned to owner: " + _top(self.owners, "(unassigned)"))
            lines.append("assigned how: " + _top(self.methods, ""))
        if self.transitions:
            lines.append("transitions: " + _top(self.transitions, ""))
        if self.warning_codes:
            lines.append("warnings: " + _top(self.warning_codes, ""))
        if errors:
            lines.append("errors: " + _top(self.errors, ""))
            lines.extend(f"  {example}" for example in self.error_examples)
            if errors > len(self.error_examples):
                lines.append(f"  … and {_n(errors - len(self.error_examples))} more")
        lines.extend(f"notice: {text}" for text in self.notices)
        return "\n".join(lines)


def _top(counts: Counter[Any], none_label: str) -> str:
    """``a 3, b 2, (+4 more)``: most first, then by name; None shown as ``none_label``."""
    items = sorted(counts.items(), key=lambda kv: (-kv[1], "" if kv[0] is None else kv[0]))
    shown = ", ".join(f"{none_label if k is None else k} {_n(v)}" for k, v in items[:TOP])
    rest = len(items) - TOP
    return shown + (f", (+{rest} more)" if rest > 0 else "")


def _n(number: int) -> str:
    return f"{number:,}"


def _plural(number: int, word: str) -> str:
    return word if number == 1 else word + "s"


def problem_summary(problems: Iterable[Problem], files: int) -> str:
    """``3 errors, 1 warning in 7 files`` (plus ``, 2 notes`` for informational ones):
    the last line of ``sfa validate``."""
    count = {"error": 0, "warning": 0, "info": 0}
    for problem in problems:
        count[problem.severity] = count.get(problem.severity, 0) + 1

    def n(number: int, word: str) -> str:
        return f"{number} {_plural(number, word)}"

    notes = f", {n(count['info'], 'note')}" if count["info"] else ""
    return (f"{n(count['error'], 'error')}, {n(count['warning'], 'warning')}"
            f"{notes} in {n(files, 'file')}")
