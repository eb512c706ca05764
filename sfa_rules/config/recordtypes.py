"""The record types (SPEC §8) and their spellings.

In the configuration layer because imports name a record type (``type: customer``)
and ``sfa validate`` checks it; the readers and the engine use the same names.
"""

from __future__ import annotations

__all__ = ["PLURALS", "RECORD_TYPES", "TYPE_NAMES", "normalise_type"]

RECORD_TYPES: tuple[str, ...] = (
    "lead",
    "customer",
    "prospect",
    "opportunity",
    "estimate",
    "sales_order",
    "invoice",
    "cash_sale",
    "status_change",
    "activity",
    "contact",
)
PLURALS = {
    "opportunity": "opportunities",
    "activity": "activities",
}
# singular and plural spellings -> the singular (SPEC §8: "or the singular")
TYPE_NAMES: dict[str, str] = {
    **{t: t for t in RECORD_TYPES},
    **{PLURALS.get(t, t + "s"): t for t in RECORD_TYPES},
}


def normalise_type(value: str) -> str | None:
    """The singular record type a spelling stands for (``Leads``, ``sales-order``), or None."""
    key = value.strip().lower().replace("-", "_").replace(" ", "_")
    return TYPE_NAMES.get(key)
