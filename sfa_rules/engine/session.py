"""A session: rows decided in order against one store (SPEC §8, §9).

``process`` streams the rows: each row's field names are made canonical, its place
remembered (``RowContext``), then one function per kind of row decides it
(``customers``, ``opportunities``, ``transactions``); a ``RecordError`` raised before
any write makes the row's decision an error that changes nothing. A resumable session
commits every ``BATCH_ROWS`` rows with a journal of their decisions.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import date, datetime
from types import TracebackType
from typing import Any, Self

from sfa_rules.criteria.values import blank, text
from sfa_rules.engine.activities import activity_row, contact_row
from sfa_rules.engine.context import RowContext
from sfa_rules.engine.customers import CUSTOMER_TYPES, customer_row
from sfa_rules.engine.decision import Decision, FrozenDict
from sfa_rules.engine.forecasting import RowIssues
from sfa_rules.engine.opportunities import opportunity_row
from sfa_rules.engine.rows import InputRow, normalise_type
from sfa_rules.engine.rules import Rules
from sfa_rules.engine.surrogates import lone_surrogate
from sfa_rules.engine.transactions import status_change_row, transaction_row
from sfa_rules.entities import Customer
from sfa_rules.errors import RecordError
from sfa_rules.forecast import ForecastItem, ForecastReport, QuotaBook, build
from sfa_rules.lifecycle.opportunities import unknown_in_state
from sfa_rules.state import MemoryStore, Store, encode_lines

__all__ = ["BATCH_ROWS", "Session", "as_of_day"]

BATCH_ROWS = 5_000  # rows per committed batch of an apply run (crash safety, SPEC §9)


def as_of_day(day: str | date | None) -> str | None:
    """The session's date as ``YYYY-MM-DD``; a datetime is its day. Raises ValueError
    for text that is not a date: every row without one of its own would be dated by it."""
    if day is None:
        return None
    if isinstance(day, datetime):
        return day.date().isoformat()
    if isinstance(day, date):
        return day.isoformat()
    try:
        return date.fromisoformat(day).isoformat()
    except (TypeError, ValueError):
        raise ValueError(f"as_of must be a date (YYYY-MM-DD, or a datetime.date), "
                         f"not {day!r}") from None


def _shown(value: object) -> str:
    """What a value that is no record is, as a message says it: ``a str: 'lead'``."""
    if value is None:
        return "None"
    text = repr(value)
    return f"a {type(value).__name__}: {text if len(text) <= 40 else text[:37] + '...'}"


class Session:
    """Rows decided in order against one store. ``process`` is lazy; ``commit()``
    makes the run's effects durable; leaving without it writes nothing."""

    def __init__(
        self,
        engine: Rules,
        store: Store,
        *,
        as_of: str | date | None = None,
        reassign: bool = False,
        explain: bool = False,
        private: bool = False,
        alone: bool = False,
        history: bool = True,
    ) -> None:
        """``private``: ``store`` is the session's own, fresh and seen by no other
        session (``engine.session()`` with no state): rows then need no fingerprint
        of their contents for a later run. ``alone``: it decides one record, and its
        store is dropped after (``decide``). ``history=False``: the rows write no
        history lines, for a run whose store is never committed (a dry run)."""
        self.engine = engine
        self.store = store
        self.as_of = as_of_day(as_of)
        self.reassign = reassign
        self.explain = explain
        if not private:  # a state file kept by other runs: its loads as this configuration counts
            engine.recount_loads(store)
        self._ctx = RowContext(engine, store, as_of=self.as_of, reassign=reassign,
                               explain=explain, private=private, alone=alone,
                               history=history)
        # Per engine, not per session: ``decide`` opens a session per record.
        self._keys = engine.canonical_keys
        self._canonical_shapes = engine.canonical_shapes
        self._run_key: str | None = None
        self._rows_done = 0
        self._batch: list[str] = []  # the batch's decisions as JSON
        self._closed = False

    @property
    def notices(self) -> list[str]:
        """What the run says once at the end (a rotation that restarted, ...)."""
        return self._ctx.notices

    # -- life cycle of the session ---------------------------------------------------

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """End the session; what was not committed is dropped."""
        if not self._closed:
            self._closed = True
            if self._ctx.private and isinstance(self.store, MemoryStore):
                self.store.discard()  # its own: nobody else will read it
            else:
                self.store.close()

    def resumable(self, run_key: str) -> None:
        """Commit every ``BATCH_ROWS`` rows with a journal under ``run_key``, so that a
        killed run re-run on the same input replays the committed batches' decisions
        and goes on where it stopped (SPEC §9 crash safety)."""
        self._run_key = run_key

    def commit(self) -> None:
        """Make everything processed so far durable."""
        if self._run_key is not None:
            self._commit_batch()
            self.store.finish_run(self._run_key)
        else:
            self.store.commit()

    def _commit_batch(self) -> None:
        assert self._run_key is not None
        self.store.commit_batch(self._run_key, self._rows_done, encode_lines(self._batch))
        self._batch.clear()

    # -- rows ---------------------------------------------------------------------

    def process(self, rows: Iterable[Mapping[str, Any] | InputRow]) -> Iterator[Decision]:
        """One decision per row, in order, lazily. Rows are ``InputRow`` values from
        :mod:`records` or plain dicts carrying their ``type``."""
        it = iter(rows)
        if self._run_key is not None:
            done, replay = self.store.resume_point(self._run_key)
            for stored in replay:
                item = next(it, None)
                if isinstance(item, InputRow):  # its place, as when it was decided
                    self._ctx.enter(item.source, item.row, item.record or {})
                elif isinstance(item, Mapping):
                    self._ctx.enter(None, None, item)
                yield Decision.from_dict(stored)
            self._rows_done = done
        number = self._rows_done
        for item in it:
            number += 1
            decision = self._decide(item, number)
            if self._run_key is not None:
                self._batch.append(decision.to_json())
                self._rows_done = number
                if len(self._batch) >= BATCH_ROWS:
                    self._commit_batch()
            yield decision

    def decide_alone(self, record: Mapping[str, Any]) -> Decision:
        """Decide ``record`` as the first row of this ``alone`` session, then forget it:
        the session is as new after, ready for the next record (``Engine.decide``)."""
        try:
            return self._decide(record, 1)
        finally:
            self.store.rollback()
            self._ctx.forget()

    def _decide(self, item: Mapping[str, Any] | InputRow, number: int) -> Decision:
        decision = self._decide_row(item, number)
        if type(item) is InputRow and item.warnings:  # what reading the row found
            decision = decision._replace(warnings=(*decision.warnings, *item.warnings))
        return decision

    def _decide_row(self, item: Mapping[str, Any] | InputRow, number: int) -> Decision:
        if isinstance(item, InputRow):
            source: str | None = item.source
            row: int | None = item.row
            rtype = item.type
            raw: Mapping[str, Any] = item.record or {}
            error = item.error
        else:
            source, row, raw, error = None, number, item, None
            if not isinstance(item, Mapping):  # a pipeline's None, a string, a list
                return self._failed(None, number, None, {}, RecordError(
                    "bad-record", "a record must be a mapping of field names to values "
                    f"(a dict), not {_shown(item)}"))
        record = self._named_owner(self._canonical(raw))
        ctx = self._ctx
        ctx.enter(source, row, raw)
        if not isinstance(item, InputRow):
            found = lone_surrogate(record)  # readers checked theirs; a dict may hold one
            if found is not None:
                record, error = found
                rtype = _dict_type(record)[0]
            else:
                rtype, error = _dict_type(record)
        if error is not None:
            return self._failed(source, row, rtype, record, error)
        assert rtype is not None
        try:
            if rtype in CUSTOMER_TYPES:
                decision = customer_row(ctx, source, row, rtype, record)
            elif rtype == "opportunity":
                decision = opportunity_row(ctx, source, row, record)
            elif rtype == "status_change":
                decision = status_change_row(ctx, source, row, record)
            elif rtype == "activity":
                decision = activity_row(ctx, source, row, record)
            elif rtype == "contact":
                decision = contact_row(ctx, source, row, record)
            else:
                decision = transaction_row(ctx, source, row, rtype, record)
        except RecordError as exc:
            return self._failed(source, row, rtype, record, exc)
        matcher = ctx.matcher
        if matcher is not None:  # the keys and dates matching ranks by (SPEC §19)
            matcher.remember(
                rtype, record, decision.id if rtype in CUSTOMER_TYPES else decision.customer,
                decision.stage, decision.owner, ctx.as_of, ctx.store,
            )
        return decision

    def _canonical(self, raw: Mapping[str, Any]) -> Mapping[str, Any]:
        """The record with canonical field names (``settings.fields`` aliases, case and
        blanks of names ignored); the first non-empty value wins a name. A record whose
        names are all canonical already (most rows of most files) is used as it is:
        the engine never changes a record."""
        shape = tuple(raw)
        same = self._canonical_shapes.get(shape)
        if same is None:
            canonical = self.engine.ctx.schema.canonical
            same = all(type(k) is str and canonical(k) == k for k in shape)
            if len(self._canonical_shapes) >= 1_000:  # ever-new shapes: stay bounded
                self._canonical_shapes.clear()
            self._canonical_shapes[shape] = same
        if same:
            return raw
        keys = self._keys
        canonical = self.engine.ctx.schema.canonical
        out: dict[str, Any] = {}
        for key, value in raw.items():
            name = keys.get(key) if isinstance(key, str) else None
            if name is None:
                name = canonical(str(key))
                if isinstance(key, str) and len(keys) < 10_000:
                    keys[key] = name
            if name not in out or blank(out[name]):
                out[name] = value
        return out

    def _named_owner(self, record: Mapping[str, Any]) -> Mapping[str, Any]:
        """The record with an ``owner`` that names a rep by its name given as that
        rep's id (SPEC §17); other owners, and the record itself, are left as they are."""
        owner = record.get("owner")
        if type(owner) is not str or owner in self.engine.hierarchy.reps:
            return record
        rep = self.engine.hierarchy.owner(owner)
        return record if rep == owner else {**record, "owner": rep}

    def _failed(
        self,
        source: str | None,
        row: int | None,
        rtype: str | None,
        record: Mapping[str, Any],
        error: RecordError,
    ) -> Decision:
        """A row in error: it changes nothing; the decision says why."""
        customer_id = text(record.get("customer")) if rtype not in CUSTOMER_TYPES else None
        if rtype == "opportunity" and customer_id is None:
            previous = self.store.get_opportunity(text(record.get("id")) or "")
            customer_id = previous.customer if previous else None
        customer = self.store.get_customer(customer_id) if customer_id else None
        rid = text(record.get("id"))
        if customer is None:
            return Decision(source, row, rtype, rid, error=FrozenDict(error.to_dict()), customer=customer_id,
                            trace=() if self.explain else None)
        # a transaction row shows its customer as it stands, unchanged (SPEC §8); its
        # status and probability are the customer's too, but an opportunity's own
        lifecycle, own = self.engine.lifecycle, rtype != "opportunity"
        return Decision(
            source, row, rtype, rid,
            owner=customer.owner, territory=customer.territory,
            status=customer.status if own else None,
            stage=lifecycle.stage(customer.status),
            probability=lifecycle.probability(customer.status) if own else None,
            error=FrozenDict(error.to_dict()), customer=customer_id, customer_status=customer.status,
            trace=() if self.explain else None,
        )

    # -- forecast ----------------------------------------------------------------------

    def forecast(
        self,
        rows: Iterable[Mapping[str, Any] | InputRow],
        *,
        by: str = "owner",
        period: str = "quarter",
    ) -> tuple[ForecastReport, list[Decision]]:
        """Process ``rows`` (their lifecycle first, so owners resolve), then forecast
        every opportunity they and the state hold (SPEC §7, §17). The report's errors
        and warnings include the rows' own (the rows in error count nowhere); the
        decisions of the rows in error are also returned."""
        where: dict[str, tuple[str, int | None]] = {}
        failed: list[Decision] = []
        notes = RowIssues()
        for decision in self.process(rows):
            notes.add(decision)
            if decision.error is not None:
                failed.append(decision)
            elif decision.type == "opportunity" and decision.id is not None:
                where[decision.id] = (decision.source or "records", decision.row)
        rows_failed = len(failed)
        report = self.rollup(where, by=by, period=period, failed=failed)
        for decision in failed[rows_failed:]:  # the state's opportunities of a status no
            notes.add(decision)                 # longer configured: errors of the report
        return notes.into(report), failed

    def rollup(
        self, where: Mapping[str, tuple[str, int | None]], *, by: str = "owner",
        period: str = "quarter", failed: list[Decision] | None = None,
    ) -> ForecastReport:
        """The forecast of every opportunity the session's store holds now (the rows
        processed so far included); ``where`` names the file and row of an opportunity
        id for messages (the others say ``state``). The state's opportunities whose
        status the configuration no longer has are appended to ``failed``."""
        settings, hierarchy = self.engine.config.forecast, self.engine.hierarchy
        return build(
            self._forecast_items(where, [] if failed is None else failed),
            by=by, period=period,  # type: ignore[arg-type]
            weighted=settings.weighted, minimum_probability=settings.minimum_probability,
            hierarchy=hierarchy, quotas=QuotaBook(self.engine.config.quotas, hierarchy),
        )

    def _forecast_items(self, where: Mapping[str, tuple[str, int | None]],
                        failed: list[Decision]) -> Iterator[ForecastItem]:
        statuses = self.engine.opportunity_statuses
        customers: dict[str, Customer | None] = {}
        for o in self.store.all_opportunities():
            status = statuses.get(o.status)
            if status is None:  # a status the configuration no longer has: not counted
                source, row = where.get(o.id, ("state", None))
                error = RecordError("unknown-opportunity-status", unknown_in_state(
                    f"opportunity {o.id!r}", o.status, "opportunity_statuses",
                    "or send the opportunity with a configured status"), field="status")
                failed.append(Decision(source, row, "opportunity", o.id, customer=o.customer,
                                       status=o.status, error=FrozenDict(error.to_dict())))
                continue
            customer = None
            if o.customer is not None:
                if o.customer not in customers:
                    customers[o.customer] = self.store.get_customer(o.customer)
                customer = customers[o.customer]
            source, row = where.get(o.id, ("state", None))
            yield ForecastItem(
                source=source, row=row, id=o.id,
                owner=o.owner or (customer.owner if customer else None),
                territory=customer.territory if customer else None,
                status=o.status, category=status.forecast, outcome=status.outcome,
                probability=o.probability, amount=o.amount, expected_close=o.expected_close,
            )


def _dict_type(record: Mapping[str, Any]) -> tuple[str | None, RecordError | None]:
    """The record type a plain dict names in its ``type`` field, or the row's error."""
    given = text(record.get("type"))
    rtype = normalise_type(given) if given is not None else None
    if rtype is not None:
        return rtype, None
    return None, RecordError(
        "unknown-type",
        f"unknown record type {given!r}" if given is not None else "the record has no type",
        field="type",
    )
