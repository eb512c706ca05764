"""What the state remembers between rows and runs: customers and opportunities.

Plain frozen values, shared by the lifecycle (which computes new ones), the stores
(which keep them) and the engine (which wires the two). Update with
``dataclasses.replace``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Customer:
    """One customer record (NetSuite: its stage is lead, prospect or customer)."""

    id: str
    status: str  # status id; its stage and probability come from the configuration
    owner: str | None = None
    territory: str | None = None
    owner_locked: bool = False
    fields: Mapping[str, Any] = field(default_factory=dict)  # the last row's fields, for guards


@dataclass(frozen=True, slots=True)
class Opportunity:
    """One opportunity, as the last row that carried it left it."""

    id: str
    customer: str | None  # None: an early deal with no customer (warning `no-customer`)
    status: str  # opportunity status id
    probability: float | int  # effective probability (override or the status's)
    override: bool = False  # probability came from the record, not the status
    owner: str | None = None  # the opportunity's own `owner` field, if any
    amount: str | None = None  # as written in the record (the forecast parses it)
    expected_close: str | None = None  # as written in the record
    seq: int = 0  # change counter: higher = more recently changed (ties in `follow`)
