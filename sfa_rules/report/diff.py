"""Decisions under two configurations side by side (SPEC §15, ``sfa diff``).

Both engines decide the same rows, each from the same starting state, neither
written. A row is changed when its owner, territory, status, probability or error
differs; the moves are counted per field and value pair.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sfa_rules.engine.core import Session
from sfa_rules.engine.decision import Decision

FIELDS = ("owner", "territory", "status", "probability", "error")


def _view(decision: Decision) -> dict[str, Any]:
    error = decision.error
    return {
        "owner": decision.owner,
        "territory": decision.territory,
        "status": decision.status,
        "probability": decision.probability,
        "error": error.get("code") if error else None,
    }


@dataclass
class DiffResult:
    """What ``sfa diff`` reports: how many rows, and the moves per field and value pair."""

    rows: int = 0
    changed: int = 0
    moves: Counter[tuple[str, Any, Any]] = field(default_factory=Counter)

    def summary(self) -> list[str]:
        """``territory us-west -> us-pacific: 312`` lines, most first."""
        lines = [f"{self.rows:,} rows, {self.changed:,} changed"]
        ordered = sorted(self.moves.items(), key=lambda kv: (-kv[1], kv[0][0], str(kv[0][1]), str(kv[0][2])))
        for (name, before, after), count in ordered:
            lines.append(f"{name} {_shown(before)} -> {_shown(after)}: {count:,}")
        return lines


def _shown(value: Any) -> str:
    return "(none)" if value is None else str(value)


def diff(
    base: Session,
    new: Session,
    base_rows: Iterable[Any],
    new_rows: Iterable[Any],
    result: DiffResult,
) -> Iterator[dict[str, Any]]:
    """The changed rows (``id``, ``source``, ``row``, ``before``, ``after``), lazily;
    ``result`` accumulates the counts. The two row streams hold the same rows, read
    once for each side."""
    for before, after in zip(base.process(base_rows), new.process(new_rows), strict=True):
        result.rows += 1
        old, now = _view(before), _view(after)
        if old == now:
            continue
        result.changed += 1
        for name in FIELDS:
            if old[name] != now[name]:
                result.moves[(name, old[name], now[name])] += 1
        yield {
            "id": after.id,
            "source": after.source,
            "row": after.row,
            "before": old,
            "after": now,
        }
