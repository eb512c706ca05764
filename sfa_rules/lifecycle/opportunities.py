"""Opportunity rows: status, probability, forecast category and event (SPEC §7, §8).

``OpportunityRules(config)`` is compiled once; ``decide`` is called per opportunity row
(through ``Lifecycle.opportunity_row``) and returns the new ``Opportunity`` value and
the one event the row raises. Choices where SPEC is silent:

- An opportunity row without a status keeps its previous status, or, when new, gets
  the first opportunity status without an outcome.
- A won or lost status always takes its own probability unless the row carries one:
  an outcome ends a per-opportunity override under ``override: keep`` too.
- A probability may carry a trailing ``%`` (``"75%"``).
- A present ``expected_close`` that is not an ISO date is a record error
  (``bad-date``) in every command, not only in the forecast that reads it.
- ``seq`` (ties in ``{follow: opportunity}``) advances when the status or the
  probability changes, not for an amount or a date.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from sfa_rules.config.models import Config, OpportunityStatus
from sfa_rules.criteria.facts import read_number
from sfa_rules.criteria.values import blank, read_amount, text
from sfa_rules.entities import Customer, Opportunity
from sfa_rules.errors import RecordError, did_you_mean

_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")


@dataclass(frozen=True, slots=True)
class OpportunityOutcome:
    """What an opportunity row decides: the new value and the event it raises."""

    opportunity: Opportunity
    event: str | None
    status: str
    probability: float | int
    forecast: str
    warnings: tuple[str, ...] = ()


class OpportunityRules:
    """The opportunity statuses of one configuration, compiled for per-row use."""

    def __init__(self, config: Config) -> None:
        self._enabled = config.settings.opportunities
        self._fold = not config.settings.case_sensitive
        self._keep = config.forecast.override == "keep"
        self._statuses = {o.id: o for o in config.opportunity_statuses}
        self._folded = fold_index(self._statuses)
        self._outcome = {o.id: o.outcome for o in config.opportunity_statuses}
        self.open_ids = frozenset(o.id for o in config.opportunity_statuses if o.outcome is None)
        self.mapping = {o.id: o.customer_status for o in config.opportunity_statuses}
        first_open = [o.id for o in config.opportunity_statuses if o.outcome is None]
        self._first = first_open[0] if first_open else None

    def require_enabled(self) -> None:
        """Raise the record error of an opportunity row when the configuration has
        opportunities off (``settings.opportunities: false``)."""
        if not self._enabled:
            raise RecordError(
                "opportunities-disabled", "opportunity rows need settings.opportunities: true"
            )

    def outcome(self, status: str) -> str | None:
        """``won``, ``lost`` or None (open) for an opportunity status."""
        return self._outcome.get(status)

    def decide(
        self,
        record: Mapping[str, Any],
        previous: Opportunity | None,
        customer: Customer | None,
        seq: int,
    ) -> OpportunityOutcome:
        """Decide an opportunity row (SPEC §7, §8): new value, event, probability."""
        self.require_enabled()
        oid = str(record["id"]).strip()
        status = self._status(record.get("status"), previous)
        ostatus = self._statuses[status]
        changed = previous is None or previous.status != status
        probability, override = self._probability(record, previous, ostatus, changed)
        close = check_expected_close(record.get("expected_close"))
        amount = check_amount(record.get("amount"))
        customer_id = text(record.get("customer"))
        warnings: tuple[str, ...] = ()
        if customer_id is None:
            customer_id = previous.customer if previous is not None else None
        if customer_id is None:
            warnings = (f"no-customer: opportunity {oid} has no customer: no lifecycle event",)
        elif customer is None:
            raise RecordError(
                "unknown-customer", f"unknown customer {customer_id!r}", field="customer"
            )
        event = self._event(ostatus, previous, changed) if customer_id is not None else None
        moved = changed or previous is None or previous.probability != probability
        value = Opportunity(
            id=oid,
            customer=customer_id,
            status=status,
            probability=probability,
            override=override,
            owner=text(record.get("owner")) or (previous.owner if previous else None),
            amount=amount or (previous.amount if previous else None),
            expected_close=close or (previous.expected_close if previous else None),
            seq=seq if moved or previous is None else previous.seq,
        )
        return OpportunityOutcome(value, event, status, probability, ostatus.forecast, warnings)

    def _status(self, raw: Any, previous: Opportunity | None) -> str:
        """The row's status; else the opportunity's; else the first open status."""
        if not blank(raw):
            return resolve_id(
                raw, self._statuses, self._folded, self._fold, "unknown-opportunity-status", "status"
            )
        if previous is not None:
            if previous.status not in self._statuses:
                raise RecordError("unknown-opportunity-status", unknown_in_state(
                    f"opportunity {previous.id!r}", previous.status, "opportunity_statuses",
                    "or give the row a status",
                ), field="status")
            return previous.status
        if self._first is not None:
            return self._first
        raise RecordError(
            "unknown-opportunity-status",
            "the opportunity has no status and no open opportunity status is configured",
            field="status",
        )

    def _probability(
        self, record: Mapping[str, Any], previous: Opportunity | None,
        ostatus: OpportunityStatus, changed: bool,
    ) -> tuple[float | int, bool]:
        """The probability and whether it overrides the status's (SPEC §7): the row's;
        else an earlier override an open opportunity keeps; else the status's."""
        given = parse_probability(record.get("probability"))
        if given is not None:
            return given, True
        if (
            previous is not None
            and previous.override
            and ostatus.outcome is None
            and (not changed or self._keep)
        ):
            return previous.probability, True
        return ostatus.probability, False

    def _event(
        self, ostatus: OpportunityStatus, previous: Opportunity | None, changed: bool
    ) -> str | None:
        """The event on the customer: won or lost once, created, updated, or none."""
        outcome = ostatus.outcome
        if outcome is not None and (previous is None or self._outcome.get(previous.status) != outcome):
            return f"opportunity.{outcome}"
        if previous is None:
            return "opportunity.created"
        if changed:
            return "opportunity.updated"
        return None


def fold_index(items: Mapping[str, Any]) -> dict[str, str | None]:
    """Folded id -> id, or None where two ids fold alike (then only exact ids match)."""
    out: dict[str, str | None] = {}
    for key in items:
        folded = key.strip().casefold()
        out[folded] = None if folded in out else key
    return out


def resolve_id(
    raw: Any,
    items: Mapping[str, Any],
    folded: Mapping[str, str | None],
    fold: bool,
    code: str,
    field: str,
) -> str:
    written = str(raw)
    if written in items:
        return written
    if fold:
        hit = folded.get(written.strip().casefold())
        if hit is not None:
            return hit
    kind = "opportunity status" if code == "unknown-opportunity-status" else "status"
    raise RecordError(code, f"unknown {kind} {written!r}{did_you_mean(written, items)}", field=field)


def check_expected_close(raw: Any) -> str | None:
    """The row's ``expected_close`` as trimmed text; ``bad-date`` unless it is an ISO
    date (``YYYY-MM-DD``), as the forecast reads it: a run that exits 0 is then a run
    whose forecast reads every date (SPEC §16)."""
    written = text(raw)
    if written is None:
        return None
    match = _ISO_DATE.fullmatch(written)
    try:
        if match is not None:
            date(*(int(part) for part in match.groups()))
            return written
    except ValueError:
        pass
    raise RecordError(
        "bad-date", f"expected_close {written!r} is not a date (expected YYYY-MM-DD)",
        field="expected_close",
    )


def check_amount(raw: Any) -> str | None:
    """The row's ``amount`` as trimmed text; ``bad-amount`` unless the forecast reads
    it, so that a run that exits 0 is a run whose forecast reads every amount."""
    written = text(raw)
    if written is not None and isinstance(read := read_amount(written), str):
        raise RecordError("bad-amount", read, field="amount")
    return written


def unknown_in_state(what: str, status: str, section: str, repair: str) -> str:
    """The message for a status in the state that the configuration lacks."""
    return (f"{what} has the status {status!r} in the state, which this configuration does "
            f"not define (the state was written under another configuration): add {status!r} "
            f"back to {section}, {repair}")


def parse_probability(raw: Any) -> float | int | None:
    """A record's own probability, or None when absent; ``bad-probability`` if unreadable."""
    if blank(raw):
        return None
    value: float | int
    if isinstance(raw, bool):
        value = -1  # a boolean is not a probability
    elif isinstance(raw, (int, float)):
        value = raw
    else:
        number = read_number(str(raw).strip().removesuffix("%").strip())  # not '1_0'
        if number is None:
            raise RecordError(
                "bad-probability", f"probability {raw!r} is not a number", field="probability")
        value = number
        if value.is_integer():
            value = int(value)
    if isinstance(value, float) and not math.isfinite(value):  # nan, inf, 1e999: no number
        raise RecordError(
            "bad-probability", f"probability {raw!r} is not a number", field="probability"
        )
    if not 0 <= value <= 100:
        raise RecordError(
            "bad-probability", f"probability {raw!r} is outside 0-100", field="probability"
        )
    return value
