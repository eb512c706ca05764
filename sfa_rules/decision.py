"""The decision: what the engine says about one input row (SPEC §8)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

TRANSACTION_TYPES = frozenset(
    {"opportunity", "estimate", "sales_order", "invoice", "cash_sale", "status_change"}
)


class Decision(NamedTuple):
    """One decision per input row; ``to_dict()`` is SPEC §8's JSON, keys in order.

    A named tuple: immutable and typed like a frozen dataclass, and four times cheaper
    to make, which counts at a million rows.
    """

    source: str | None
    row: int | None
    type: str | None
    id: str | None
    owner: str | None = None
    territory: str | None = None
    assigned_by: str | None = None
    status: str | None = None
    stage: str | None = None
    probability: int | float | None = None
    previous_status: str | None = None
    transition: str | None = None
    event: str | None = None
    warnings: tuple[str, ...] = ()
    error: dict[str, Any] | None = None
    customer: str | None = None  # transaction rows only
    customer_status: str | None = None  # transaction rows only
    forecast: str | None = None  # opportunity rows only
    trace: tuple[dict[str, Any], ...] | None = None  # with explain only

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Decision:
        """The decision ``to_dict()`` gave (the resume journal stores them so)."""
        fields = {k: v for k, v in data.items() if k in cls._fields}
        fields["warnings"] = tuple(fields.get("warnings") or ())
        if fields.get("trace") is not None:
            fields["trace"] = tuple(fields["trace"])
        return cls(**fields)

    def to_dict(self) -> dict[str, Any]:
        """The decision as SPEC §8's JSON object."""
        out: dict[str, Any] = {
            "source": self.source,
            "row": self.row,
            "type": self.type,
            "id": self.id,
        }
        if self.type in TRANSACTION_TYPES:
            out["customer"] = self.customer
            out["customer_status"] = self.customer_status
        out["owner"] = self.owner
        out["territory"] = self.territory
        out["assigned_by"] = self.assigned_by
        out["status"] = self.status
        out["stage"] = self.stage
        out["probability"] = self.probability
        if self.type == "opportunity":
            out["forecast"] = self.forecast
        out["previous_status"] = self.previous_status
        out["transition"] = self.transition
        out["event"] = self.event
        out["warnings"] = list(self.warnings)
        out["error"] = self.error
        if self.trace is not None:
            out["trace"] = list(self.trace)
        return out

