"""What the state remembers between rows and runs: customers and opportunities.

Plain frozen values, shared by the lifecycle (which computes new ones), the stores
(which keep them) and the engine (which wires the two). Update with
``dataclasses.replace``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple


@dataclass(frozen=True, slots=True)
class Customer:
    """One customer record (NetSuite: its stage is lead, prospect or customer)."""

    id: str
    status: str  # status id; its stage and probability come from the configuration
    owner: str | None = None
    territory: str | None = None
    owner_locked: bool = False
    fields: Mapping[str, Any] = field(default_factory=dict)  # the last row's fields, for guards
    # The follow-up clocks and activity facts (SPEC §18), all ISO dates or counts:
    assigned_on: str | None = None  # the date it got its current owner
    status_on: str | None = None  # the date it entered its current status
    last_activity: str | None = None  # the date of its latest activity
    activities: Mapping[str, int] = field(default_factory=dict)  # activity kind -> count
    contacts: int = 0  # contacts recorded for it


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


@dataclass(frozen=True, slots=True)
class MatchEntry:
    """What matching remembers of one lead, prospect or customer (SPEC §19): its key
    values, the index keys it is found under, and what ranks it among customers that
    share a key."""

    id: str
    values: Mapping[str, str] = field(default_factory=dict)  # kind -> normalised value
    keys: tuple[str, ...] = ()  # the index keys it is listed under ("a:company:acme", ...)
    created: str | None = None  # ISO date: the earliest `created` its rows gave
    activity: str | None = None  # ISO date: the latest date its rows and transactions gave
    seq: int = 0  # order in which the state first knew it


class MatchRef(NamedTuple):
    """What ranks a record found under an index key (a `MatchEntry` without its keys)."""

    id: str
    seq: int
    created: str | None
    activity: str | None


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One line of a customer's history (`sfa state history`), in the order it happened.

    ``kind`` is ``assignment`` (detail: owner, territory, how), ``status`` (from, to,
    event), ``activity`` (kind, id, subject, outcome, owner), ``contact`` (id, name,
    email, phone, role), ``opportunity`` (id, status, amount) or ``follow_up`` (id,
    action); ``source`` says where it came from (``file:line`` of the row, or
    ``follow-up:<id>``).
    """

    customer: str
    date: str | None  # ISO date
    kind: str
    detail: Mapping[str, Any] = field(default_factory=dict)
    source: str | None = None
    seq: int = 0  # order of arrival, the tie-break within one date
