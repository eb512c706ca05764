"""Decisions under two configurations side by side (SPEC §15, ``sfa diff``).

Both engines decide the same rows, each from the same starting state, neither
written. A row is changed when its owner, territory, status, probability or error
differs, or, on a transaction row (whose ``status`` is an opportunity's, or the
customer's), the customer's status after it (``customer_status``, then in ``before``
and ``after`` too); the moves are counted per field and value pair, and the rows in
error under each configuration.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sfa_rules.engine.core import Session
from sfa_rules.engine.decision import Decision

FIELDS = ("owner", "territory", "status", "probability", "error")
CUSTOMER_STATUS = "customer_status"


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
    errors_before: int = 0  # rows in error under the base configuration
    errors_after: int = 0  # and under the new one

    def summary(self) -> list[str]:
        """``territory us-west -> us-pacific: 312`` lines, most first."""
        lines = [f"{self.rows:,} rows, {self.changed:,} changed"]
        ordered = sorted(self.moves.items(), key=lambda kv: (-kv[1], kv[0][0], str(kv[0][1]), str(kv[0][2])))
        for (name, before, after), count in ordered:
            lines.append(f"{name} {_shown(before)} -> {_shown(after)}: {count:,}")
        if self.errors_before or self.errors_after:
            lines.append(f"rows in error: {self.errors_before:,} under --base, "
                         f"{self.errors_after:,} under --config (see `sfa dry-run`)")
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
    """The changed rows (``id``, ``source``, ``row``, ``before``, ``after``; each side's
    ``trace`` too when the sessions explain), lazily; ``result`` accumulates the
    counts. The two row streams hold the same rows, read once for each side."""
    for before, after in zip(base.process(base_rows), new.process(new_rows), strict=True):
        result.rows += 1
        result.errors_before += before.error is not None
        result.errors_after += after.error is not None
        old, now = _view(before), _view(after)
        if before.customer_status != after.customer_status:
            old[CUSTOMER_STATUS], now[CUSTOMER_STATUS] = before.customer_status, after.customer_status
        elif old == now:
            continue
        result.changed += 1
        for name in old:
            if old[name] != now[name]:
                result.moves[(name, old[name], now[name])] += 1
        if before.trace is not None:  # explained (``--explain``): each side's trace
            old["trace"], now["trace"] = list(before.trace), list(after.trace or ())
        yield {
            "id": after.id if after.id is not None else before.id,  # the new side's, if any
            "source": after.source,
            "row": after.row,
            "before": old,
            "after": now,
        }
