"""What the handlers of one session's rows share (SPEC §8, §9): the compiled rules, the
store, the run's options, the place of the row being decided, and the writes every kind
of row makes the same way (a customer saved with its rep's open-record count, a status
after an event, a row's fingerprint so that applying it again changes nothing)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import PurePath
from typing import Any, NamedTuple

from sfa_rules.criteria.facts import parse_iso_date
from sfa_rules.criteria.values import text
from sfa_rules.engine.portfolios import Portfolios
from sfa_rules.engine.rules import Rules
from sfa_rules.entities import Customer, HistoryEntry
from sfa_rules.errors import RecordError
from sfa_rules.routing.territories import iso_day
from sfa_rules.state import Store

__all__ = ["ALREADY_APPLIED", "APPLIED", "At", "RowContext", "required", "truthy"]

APPLIED = "row"  # the store's `seen` kind for rows already applied (fingerprints)
ALREADY_APPLIED = (
    "already-applied: this row of this input was applied before; nothing changed "
    "(a feed whose messages can repeat exactly should carry a message id or timestamp)"
)


class At(NamedTuple):
    """Which row a decision is about: its input, its number there, its type and id."""

    source: str | None
    row: int | None
    type: str | None
    id: str | None


class RowContext:
    """One session's rules, store and options, and where its current row comes from."""

    def __init__(
        self, rules: Rules, store: Store, *, as_of: str | None, reassign: bool, explain: bool,
        private: bool = False, alone: bool = False, history: bool = True,
    ) -> None:
        self.rules = rules
        self.store = store
        self.as_of = as_of
        self.reassign = reassign
        self.explain = explain
        self.notices: list[str] = []
        self.source: str | None = None  # the row being decided: its source and row
        self.row: int | None = None
        self.chain = b""  # digest of the rows of the current row's input up to it
        self._chains: dict[str | None, bytes] = {}  # the same, per input
        # A store the session made and nobody else sees (``engine.session()``,
        # ``decide``) never meets a fingerprint from another run, and a stream's rows
        # chain to ones never seen before: their number in the run is as unique, and
        # the contents of every row need no digest.
        self.private = private
        # One record decided on its own (``decide``): no record before it to match or
        # be a duplicate of, and nothing kept after it, so no matching keys to file
        # (no matcher).
        self.alone = alone
        self.matcher = None if alone else rules.matcher
        # History lines are only ever read from a committed state (``sfa state history``,
        # follow-ups): a dry run, or a record decided alone, writes none (about 15%
        # of a dry run's CPU).
        self.keeps_history = history and not alone
        self.entered = 0
        self.portfolios = Portfolios(rules.lifecycle, store)

    def forget(self) -> None:
        """Forget the rows decided so far (their store was rolled back)."""
        self.notices.clear()
        self.entered = 0
        self.portfolios.clear()

    def enter(self, source: str | None, row: int | None, raw: Mapping[str, Any]) -> None:
        """The next row: remember its place (each input's rows chain their contents)."""
        self.source, self.row = source, row
        self.entered += 1
        if not self.private:
            link = "\x1f".join(sorted([f"{k}\x1e{v}" for k, v in raw.items()])).encode(
                "utf-8", "surrogatepass")  # a lone surrogate is its row's error, later
            chains = self._chains
            before = chains.get(source)
            if before is None:  # an input's first row: its chain starts at its name
                before = PurePath(source).name.encode("utf-8", "surrogatepass") if source else b""
            chain = hashlib.blake2b(before + b"\x1d" + link, digest_size=16).digest()
            self.chain = chains[source] = chain

    def fingerprint(self, rtype: str, rid: str) -> str:
        """What identifies a row once applied, so that applying the same input again
        changes nothing (SPEC §9) while another input's row with the same values (a
        status back to an earlier one) is still a change: the row's values and its
        place in its input, the input's name (a file's, whatever its folder) and
        everything it held up to this row. A file that grew at its end (a daily export)
        is the same input up to its old last row: its old rows are not replayed over
        what later files changed. A file of another name is another input, even when it
        holds what an earlier one did (Wednesday's export bringing Monday's values back)."""
        if self.private:
            return f"{rtype}:{rid}:run#{self.entered}"  # unique in a store no one else sees
        return f"{rtype}:{rid}:{self.chain.hex()}"  # this row is the last link

    def known_customer(self, record: Mapping[str, Any]) -> Customer:
        """The customer a transaction row names; ``unknown-customer`` when there is none."""
        cid = required(record, "customer")
        customer = self.store.get_customer(cid)
        if customer is None:
            raise RecordError(
                "unknown-customer",
                f"unknown customer {cid!r}: neither in the state nor earlier in the run",
                field="customer",
            )
        return customer

    def after_event(
        self, customer: Customer, status: str, event: str | None, day: str
    ) -> Customer:
        """The customer with its status after an event (saved, with the date it entered
        it and a line of its history, when it changed; ``event`` None: a manual change)."""
        if status == customer.status:
            return customer
        c = customer  # built, not replace()d: a third of the cost, on every transition
        changed = Customer(c.id, status, c.owner, c.territory, c.owner_locked, c.fields,
                           c.assigned_on, day, c.last_activity, c.activities, c.contacts)
        self.save(customer, changed)
        self.history(customer.id, day, "status",
                     {"from": customer.status, "to": status, "event": event})
        return changed

    def day(self, record: Mapping[str, Any]) -> str:
        """The row's date (SPEC §18): its ``date``, else its ``created``, else the run's
        as-of date (else today); a value that is no ISO date is passed over."""
        for name in ("date", "created"):
            value = record.get(name)
            if isinstance(value, date):
                return value.isoformat()[:10]
            written = text(value)
            found = parse_iso_date(written) if written is not None else None
            if found is not None:
                return found
        return iso_day(self.as_of)

    def history(self, customer: str, day: str | None, kind: str, detail: Mapping[str, Any]) -> None:
        """A line of the customer's history, from the row being decided."""
        if not self.keeps_history:
            return
        source = self.source if self.row is None else (
            f"{self.source}:{self.row}" if self.source is not None else f"row {self.row}")
        self.store.add_history(HistoryEntry(customer, day, kind, detail, source))

    def save(self, old: Customer | None, new: Customer) -> None:
        """Store a customer and keep the reps' open-record counts in step (SPEC §4)."""
        is_open = self.rules.lifecycle.is_open
        was = old is not None and old.owner is not None and is_open(old.status)
        now = new.owner is not None and is_open(new.status)
        if was != now or (was and old is not None and old.owner != new.owner):
            if was and old is not None and old.owner is not None:
                self.store.add_open(old.owner, -1)
            if now and new.owner is not None:
                self.store.add_open(new.owner, +1)
        self.store.put_customer(new)

    def notice(self, notices: Iterable[str]) -> None:
        """Something the run says once at the end (a rotation that restarted)."""
        for notice in notices:
            if notice not in self.notices:
                self.notices.append(notice)


def truthy(value: Any) -> bool:
    """``true``, ``1``, ``yes``, ``y`` (any case) or True."""
    if isinstance(value, bool):
        return value
    return text(value) is not None and str(value).strip().lower() in ("true", "1", "yes", "y")


def falsy(value: Any) -> bool:
    """``false``, ``0``, ``no``, ``n`` (any case) or False: a value that says no, where
    a blank says nothing and any other value is not read as no."""
    if isinstance(value, bool):
        return not value
    return text(value) is not None and str(value).strip().lower() in ("false", "0", "no", "n")


def required(record: Mapping[str, Any], field: str) -> str:
    """The field's text; ``missing-field`` when it is blank."""
    value = text(record.get(field))
    if value is None:
        raise RecordError("missing-field", f"required field '{field}' is missing or empty", field=field)
    return value
