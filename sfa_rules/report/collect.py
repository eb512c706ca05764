"""What ``sfa report`` shows, gathered in one dry run over the rows (SPEC §20).

``collect(session, rows)`` decides every row (nothing is written: the session's store
is a dry run's), counting as it goes, and returns a ``ReportData``: the run summary,
the rows in error or with warnings (one entry per error or warning, the forecast's
own included, the first ``MAX_FLAGGED``), the customers' statuses after the run, each
rep's open records against their capacity, and the forecast by owner and period (its
rollups give the categories), and by manager too when any rep has one.
``report.html`` turns it into the page. Memory: counters, plus one entry per distinct
customer and per flagged row shown.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sfa_rules.config.models import STAGES
from sfa_rules.engine.core import Session
from sfa_rules.engine.decision import Decision
from sfa_rules.engine.rows import InputRow
from sfa_rules.errors import Problem
from sfa_rules.forecast import ForecastReport
from sfa_rules.report.summary import ASSIGNED_TYPES, Summary, warning_code

__all__ = ["MAX_FLAGGED", "Flagged", "RepLoad", "ReportData", "collect"]

MAX_FLAGGED = 10_000  # errors and warnings listed in the table (all are counted)


@dataclass(frozen=True, slots=True)
class Flagged:
    """One error or warning of one row, as the table lists it."""

    source: str
    row: int | None
    type: str
    id: str
    owner: str
    severity: str  # error | warning
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class RepLoad:
    """A rep's open records after the run, against their capacity (None: no limit)."""

    rep: str
    open: int
    capacity: int | None
    active: bool
    configured: bool


@dataclass
class ReportData:
    """Everything the page shows (built by ``collect``)."""

    summary: Summary
    flagged: list[Flagged] = field(default_factory=list)
    flagged_total: int = 0
    customers: Counter[tuple[str, str]] = field(default_factory=Counter)  # (stage, status)
    status_order: list[tuple[str, str]] = field(default_factory=list)  # (stage, status)
    loads: list[RepLoad] = field(default_factory=list)
    forecast: ForecastReport | None = None  # by owner and period
    by_manager: ForecastReport | None = None  # by manager and period, with managers
    problems: list[Problem] = field(default_factory=list)
    inputs: tuple[str, ...] = ()
    config: str = ""
    as_of: str | None = None
    period: str = "quarter"


def collect(
    session: Session,
    rows: Iterable[InputRow | Mapping[str, Any]],
    *,
    period: str = "quarter",
    problems: Iterable[Problem] = (),
    inputs: tuple[str, ...] = (),
) -> ReportData:
    """Decide every row of ``rows`` in ``session`` and gather what the report shows."""
    data = ReportData(Summary(), problems=sorted(problems), inputs=inputs,
                      config=str(session.engine.folder), as_of=session.as_of, period=period)
    customers: dict[str, tuple[str, str]] = {}  # customer id -> (stage, status) now
    where: dict[str, tuple[str, int | None]] = {}  # opportunity id -> its file and row
    for decision in session.process(rows):
        data.summary.add(decision)
        _flag(data, decision)
        if decision.error is not None:
            continue
        if decision.type in ASSIGNED_TYPES and decision.id is not None and decision.status:
            customers[decision.id] = (decision.stage or "", decision.status)
        elif decision.customer is not None and decision.customer_status:
            customers[decision.customer] = (decision.stage or "", decision.customer_status)
        if decision.type == "opportunity" and decision.id is not None:
            where[decision.id] = (decision.source or "records", decision.row)
    for notice in session.notices:
        data.summary.notice(notice)
    data.customers = Counter(customers.values())
    data.status_order = _status_order(session, data.customers)
    data.loads = _loads(session)
    data.forecast = session.rollup(where, by="owner", period=period)
    if any(rep.manager for rep in session.engine.config.reps):
        data.by_manager = session.rollup(where, by="manager", period=period)
    for issue in (*data.forecast.errors, *data.forecast.warnings):
        severity = "error" if issue in data.forecast.errors else "warning"
        _add(data, Flagged(issue.source, issue.row, "opportunity", issue.id, issue.owner,
                           severity, issue.code, issue.message))
    return data


def _flag(data: ReportData, d: Decision) -> None:
    issues: list[tuple[str, str, str]] = []
    if d.error is not None:
        issues.append(("error", str(d.error.get("code")), str(d.error.get("message"))))
    issues.extend(("warning", warning_code(w), w) for w in d.warnings)
    for severity, code, message in issues:
        _add(data, Flagged(d.source or "records", d.row, d.type or "",
                           d.id or d.customer or "", d.owner or "", severity, code, message))


def _add(data: ReportData, flagged: Flagged) -> None:
    data.flagged_total += 1
    if len(data.flagged) < MAX_FLAGGED:
        data.flagged.append(flagged)


def _status_order(session: Session, seen: Counter[tuple[str, str]]) -> list[tuple[str, str]]:
    """Statuses by stage (lead, prospect, customer), each stage in declared order; the
    ones no longer configured last."""
    declared = [(s.stage, s.id) for s in session.engine.config.statuses]
    rank = {stage: i for i, stage in enumerate(STAGES)}
    order = sorted(declared, key=lambda pair: rank.get(pair[0], len(rank)))
    return order + sorted(set(seen) - set(order))


def _loads(session: Session) -> list[RepLoad]:
    """Every configured rep (declared order), then the other owners with open records."""
    counts = session.store.loads()
    out = [
        RepLoad(r.id, counts.get(r.id, 0), r.capacity.max_open if r.capacity else None,
                r.active, True)
        for r in session.engine.config.reps
    ]
    known = {r.rep for r in out}
    out += [RepLoad(rep, n, None, True, False)
            for rep, n in sorted(counts.items()) if rep not in known and n]
    return out
