"""What the state remembers between rows and runs: customers and opportunities.

Plain immutable values, shared by the lifecycle (which computes new ones), the stores
(which keep them) and the engine (which wires the two). Those made on every row
(customers, match entries, history lines) are named tuples, four times cheaper to make
than frozen dataclasses (measured on CPython 3.11): update them with ``_replace``; the
others with ``dataclasses.replace``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

# The defaults below are one shared empty dict: typed Mapping, never changed (a
# read-only mapping type would not pickle).
_EMPTY: Mapping[str, Any] = {}


class Customer(NamedTuple):
    """One customer record (NetSuite: its stage is lead, prospect or customer)."""

    id: str
    status: str  # status id; its stage and probability come from the configuration
    owner: str | None = None
    territory: str | None = None
    owner_locked: bool = False
    fields: Mapping[str, Any] = _EMPTY  # the last row's fields, for guards
    # The follow-up clocks and activity facts (SPEC §18), all ISO dates or counts:
    assigned_on: str | None = None  # the date it got its current owner
    status_on: str | None = None  # the date it entered its current status
    last_activity: str | None = None  # the date of its latest activity
    activities: Mapping[str, int] = _EMPTY  # activity kind -> count
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


class MatchEntry(NamedTuple):
    """What matching remembers of one lead, prospect or customer (SPEC §19): its key
    values, the index keys it is found under, and what ranks it among customers that
    share a key."""

    id: str
    values: Mapping[str, str] = _EMPTY  # kind -> normalised value
    keys: tuple[str, ...] = ()  # the index keys it is listed under ("a:company:acme", ...)
    created: str | None = None  # ISO date: the earliest `created` its rows gave
    activity: str | None = None  # ISO date: its latest activity row or `last_activity`
    seq: int = 0  # order in which the state first knew it


class MatchRef(NamedTuple):
    """What ranks a record found under an index key (a `MatchEntry` without its keys)."""

    id: str
    seq: int
    created: str | None
    activity: str | None


class HistoryEntry(NamedTuple):
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
    detail: Mapping[str, Any] = _EMPTY
    source: str | None = None
    seq: int = 0  # order of arrival, the tie-break within one date
