"""``sfa state history CUSTOMER_ID``: a customer's history in date order (assignments,
status changes, activities, contacts and opportunities, each with its source row)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import click

from sfa_rules import api
from sfa_rules.cli.options import fail, reported

__all__ = ["history"]

_HEADER = ("date", "what", "detail", "source")


def history(customer_id: str, state: str, fmt: str) -> int:
    """Print the customer's history; an unknown customer is a usage error (exit 2)."""
    with reported():
        entries = api.history(customer_id, state)
    if entries is None:
        fail(f"no customer {customer_id!r} in the state {state}")
    if fmt == "jsonl":
        for e in entries:
            click.echo(json.dumps({"customer": e.customer, "date": e.date, "kind": e.kind,
                                   "detail": dict(e.detail), "source": e.source},
                                  ensure_ascii=False))
        return 0
    rows = [(e.date or "", e.kind, _summary(e.kind, e.detail), e.source or "") for e in entries]
    widths = [max(len(r[i]) for r in [_HEADER, *rows]) for i in range(3)]
    for row in [_HEADER, *rows]:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)) + "  " + row[3])
    if not rows:
        click.echo(f"(no history yet for {customer_id})")
    return 0


def _summary(kind: str, detail: Mapping[str, Any]) -> str:
    """One line of a history entry's detail, as people read it."""
    if kind == "status":
        how = f" on {detail['event']}" if detail.get("event") else " (manual or new)"
        start = detail.get("from") or "(new)"
        return f"{start} -> {detail.get('to')}{how}"
    if kind == "assignment":
        return f"{detail.get('owner') or '(nobody)'} in {detail.get('territory') or '-'}" \
               f" ({detail.get('how') or '-'})"
    shown = {k: v for k, v in detail.items() if v is not None}
    return " ".join(f"{k}={v}" for k, v in shown.items())
