"""The engine: a compiled configuration that decides rows (SPEC §8, §9, §11).

``load()`` reads and compiles a configuration once. ``Engine.session()`` runs rows
against a store (in memory, or the SQLite state of SPEC §9); ``Engine.decide()`` is
one row against an empty state. Per row the engine only orchestrates: assignment picks
owners, the lifecycle picks statuses, the store remembers.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator, Mapping
from datetime import date
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from sfa_rules.config import checks
from sfa_rules.config.loader import SourceMap, load_config, resolve_folder
from sfa_rules.config.models import Config
from sfa_rules.criteria.ir import CriteriaContext
from sfa_rules.criteria.values import blank, text
from sfa_rules.engine.decision import Decision
from sfa_rules.engine.rows import InputRow, normalise_type
from sfa_rules.entities import Customer, Opportunity
from sfa_rules.errors import ConfigError, Problem, RecordError
from sfa_rules.forecast import ForecastItem, ForecastReport, build
from sfa_rules.lifecycle.statuses import TRANSACTION_EVENTS, EngineName, Lifecycle
from sfa_rules.routing.assignment import Assigner
from sfa_rules.routing.territories import TerritoryIndex
from sfa_rules.state import MemoryStore, SQLiteStore, Store, encode_lines

CUSTOMER_TYPES = frozenset({"lead", "prospect", "customer"})
BATCH_ROWS = 5_000  # rows per committed batch of an apply run (crash safety, SPEC §9)
_GUARD_PREFIX = "customer."
_APPLIED = "row"  # the store's `seen` kind for rows already applied (fingerprints)
ALREADY_APPLIED = (
    "already-applied: this row of this input was applied before; nothing changed "
    "(a feed whose messages can repeat exactly should carry a message id or timestamp)"
)
_COUNTS = frozenset({"open_opportunities", "won_opportunities", "lost_opportunities"})


def compile_config(
    folder: str | os.PathLike[str] | None,
) -> tuple[Config, SourceMap, CriteriaContext, list[Problem]]:
    """Load a configuration and parse its criteria once: what running it needs.

    The static analysis of SPEC §15 is ``sfa validate``'s, not a run's: it proves
    properties of the rules and changes no decision.
    """
    config, sm, problems = load_config(folder)
    problems += checks.run(config, sm)
    ctx = CriteriaContext(config, sm)
    broken = tuple(f"unknown sales rule '{i}'" for i in sm.invalid_ids["sales_rules"])
    problems += [
        p for p in ctx.problems
        if not (p.code == "unknown-rule" and p.message.startswith(broken))
    ]
    return config, sm, ctx, sorted(problems)


def load(
    folder: str | os.PathLike[str] | None = None, *, lifecycle_engine: EngineName = "auto"
) -> Engine:
    """Load and compile a configuration folder; raises ``ConfigError`` listing every
    problem when it has errors. ``None``: ``./rules`` and ``./territories``, else the
    configuration shipped in the package (SPEC §2)."""
    root = resolve_folder(folder)
    config, _, ctx, problems = compile_config(root)
    if any(p.severity == "error" for p in problems):
        raise ConfigError(problems)
    return Engine(config, ctx, root, lifecycle_engine)


class Engine:
    """A compiled configuration. Build it with :func:`load`; ``close()`` frees the
    lifecycle evaluator (durable-rules keeps rulesets in its C core)."""

    def __init__(
        self, config: Config, ctx: CriteriaContext, folder: Path, lifecycle_engine: EngineName
    ) -> None:
        self.config = config
        self.folder = folder
        self.ctx = ctx
        self.index = TerritoryIndex(config, ctx)
        self.assigner = Assigner(config, self.index)
        self.lifecycle = Lifecycle(config, ctx, lifecycle_engine)
        self.lifecycle_engine: str = self.lifecycle.engine
        fields = ctx.schema.fields
        # The customer fields guards read (``customer.industry``): the state keeps only those.
        self.guard_fields = frozenset(
            f[len(_GUARD_PREFIX):] for f in fields
            if f.startswith(_GUARD_PREFIX) and f[len(_GUARD_PREFIX):] not in _COUNTS
        )
        self.opportunity_statuses = {o.id: o for o in config.opportunity_statuses}

    def close(self) -> None:
        """Free the lifecycle evaluator."""
        self.lifecycle.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def session(
        self,
        state: str | os.PathLike[str] | Store | None = None,
        *,
        dry_run: bool = False,
        as_of: str | date | None = None,
        reassign: bool = False,
        explain: bool = False,
    ) -> Session:
        """A run over rows. ``state``: None (an empty in-memory state), a state file
        path, or a store. Nothing is written until ``commit()``; ``dry_run=True``
        opens a state file read-only, so nothing can be."""
        store: Store
        if state is None:
            store = MemoryStore()
        elif isinstance(state, (str, os.PathLike)):
            store = SQLiteStore(state, dry_run=dry_run, lazy=not dry_run)
        else:
            store = state
        return Session(self, store, as_of=as_of, reassign=reassign, explain=explain)

    def decide(self, record: Mapping[str, Any]) -> Decision:
        """Decide one record against an empty in-memory state; remembers nothing."""
        with self.session() as session:
            return next(iter(session.process([record])))

    def forecast(
        self,
        records: Iterable[Mapping[str, Any] | InputRow],
        by: str = "owner",
        period: str = "quarter",
        *,
        state: str | os.PathLike[str] | Store | None = None,
    ) -> ForecastReport:
        """The forecast of SPEC §7 over ``records`` (customers and opportunities),
        processed as a dry run (over ``state`` when given)."""
        with self.session(state, dry_run=True) as session:
            report, _ = session.forecast(records, by=by, period=period)
        return report


class Session:
    """Rows decided in order against one store. ``process`` is lazy; ``commit()``
    makes the run's effects durable; leaving without it writes nothing."""

    def __init__(
        self,
        engine: Engine,
        store: Store,
        *,
        as_of: str | date | None = None,
        reassign: bool = False,
        explain: bool = False,
    ) -> None:
        self.engine = engine
        self.store = store
        self.as_of = as_of.isoformat() if isinstance(as_of, date) else as_of
        self.reassign = reassign
        self.explain = explain
        self.notices: list[str] = []
        self._keys: dict[str, str] = {}
        self._canonical_shapes: dict[tuple[Any, ...], bool] = {}  # field names -> canonical?
        self._sources: dict[str, str] = {}  # source name -> content digest
        self._source: str | None = None  # the row being decided: its source and row
        self._row: int | None = None
        self._chain = b""  # digest of a stream's rows so far (rows with no known source)
        self._run_key: str | None = None
        self._rows_done = 0
        self._batch: list[str] = []  # the batch's decisions as JSON
        self._closed = False

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
            self.store.close()

    def identify_sources(self, digests: Mapping[str, str]) -> None:
        """Name each input file's content (source -> digest): a row applied before is
        then recognised by its file's content and its row, whatever else changed."""
        self._sources.update(digests)

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
                next(it, None)
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

    def _decide(self, item: Mapping[str, Any] | InputRow, number: int) -> Decision:
        if isinstance(item, InputRow):
            source: str | None = item.source
            row: int | None = item.row
            rtype = item.type
            raw: Mapping[str, Any] = item.record or {}
            error = item.error
        else:
            source, row, raw, error = None, number, item, None
        record = self._canonical(raw)
        self._source, self._row = source, row
        if (source or "") not in self._sources:
            link = repr(sorted((str(k), str(v)) for k, v in raw.items())).encode()
            self._chain = hashlib.blake2b(self._chain + link, digest_size=16).digest()
        if not isinstance(item, InputRow):
            given = text(record.get("type"))
            rtype = normalise_type(given) if given is not None else None
            if rtype is None:
                error = RecordError(
                    "unknown-type",
                    f"unknown record type {given!r}" if given is not None
                    else "the record has no type",
                    field="type",
                )
        if error is not None:
            return self._failed(source, row, rtype, record, error)
        assert rtype is not None
        try:
            if rtype in CUSTOMER_TYPES:
                return self._customer_row(source, row, rtype, record)
            if rtype == "opportunity":
                return self._opportunity_row(source, row, record)
            if rtype == "status_change":
                return self._status_change_row(source, row, record)
            return self._transaction_row(source, row, rtype, record)
        except RecordError as exc:
            return self._failed(source, row, rtype, record, exc)

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

    # -- one function per kind of row ------------------------------------------------

    def _customer_row(
        self, source: str | None, row: int | None, rtype: str, record: Mapping[str, Any]
    ) -> Decision:
        engine, store = self.engine, self.store
        lifecycle = engine.lifecycle
        cid = _required(record, "id")
        facts = engine.ctx.facts(record)
        warnings = list(facts.warnings)
        trace: list[dict[str, Any]] | None = [] if self.explain else None
        given_status = record.get("status")
        existing = store.get_customer(cid)
        transition: str | None = None
        owner: str | None
        territory: str | None
        assigned_by: str | None
        locked = _truthy(record.get("owner_locked"))
        # A row that names a status is a manual change when the record is known: the
        # same row applied again must not undo what happened since (SPEC §9).
        replay = None if blank(given_status) else self._fingerprint(rtype, cid, record)
        if existing is None:
            status, status_warnings = lifecycle.new_customer(rtype, given_status)
            warnings.extend(status_warnings)
            previous = None
        else:
            status, previous = existing.status, existing.status
            if replay is not None and store.seen(_APPLIED, replay):
                warnings.append(ALREADY_APPLIED)
            elif replay is not None:
                status, transition = lifecycle.manual_change(existing, given_status)
            locked = locked or existing.owner_locked
        if existing is not None and not (self.reassign and not locked):
            owner, territory, assigned_by = existing.owner, existing.territory, "known"
            if trace is not None:
                trace.append({"step": "known", "owner": owner, "territory": territory})
        elif engine.assigner.applies(rtype):
            picked = engine.assigner.assign(facts, record, store, self.as_of, self.explain)
            owner, territory, assigned_by = picked.owner, picked.territory, picked.assigned_by
            warnings.extend(picked.skipped)
            self._notice(picked.notices)
            if trace is not None and picked.trace:
                trace.extend(picked.trace)
        else:
            owner = text(record.get("owner"))
            territory, assigned_by = None, ("kept" if owner else None)
        customer = Customer(
            cid, status, owner, territory, locked,
            {k: record[k] for k in engine.guard_fields if k in record},
        )
        self._save(existing, customer)
        if replay is not None:
            store.mark_seen(_APPLIED, replay)
        return Decision(
            source, row, rtype, cid,
            owner=owner, territory=territory, assigned_by=assigned_by,
            status=status, stage=lifecycle.stage(status),
            probability=lifecycle.probability(status),
            previous_status=previous if transition else None,
            transition=transition, warnings=tuple(warnings),
            trace=tuple(trace) if trace is not None else None,
        )

    def _opportunity_row(self, source: str | None, row: int | None, record: Mapping[str, Any]) -> Decision:
        engine, store = self.engine, self.store
        lifecycle = engine.lifecycle
        lifecycle.require_opportunities()
        oid = _required(record, "id")
        previous = store.get_opportunity(oid)
        customer_id = text(record.get("customer")) or (previous.customer if previous else None)
        customer = store.get_customer(customer_id) if customer_id else None
        replay = self._fingerprint("opportunity", oid, record)
        if previous is not None and store.seen(_APPLIED, replay):
            return self._replayed_opportunity(source, row, previous, customer)
        siblings = store.opportunities_of(customer.id) if customer is not None else []
        seq = max((o.seq for o in siblings), default=previous.seq if previous else 0) + 1
        outcome = lifecycle.opportunity_row(record, previous, customer, seq)
        store.put_opportunity(outcome.opportunity)
        store.mark_seen(_APPLIED, replay)
        warnings = [*self.engine.ctx.facts(record).warnings, *outcome.warnings]
        fired = None
        before = customer.status if customer is not None else None
        if outcome.event is not None and customer is not None:
            opportunities = store.opportunities_of(customer.id)
            fired = lifecycle.fire(outcome.event, record, customer, opportunities, self.explain)
            warnings.extend(w for w in fired.warnings if w not in warnings)
            customer = self._after_event(customer, fired.status)
        return self._transaction_decision(
            source, row, "opportunity", oid, customer, fired, warnings, outcome.event,
            status=outcome.status, probability=outcome.probability, forecast=outcome.forecast,
            previous=before if fired is not None and fired.transition else None,
        )

    def _transaction_row(
        self, source: str | None, row: int | None, rtype: str, record: Mapping[str, Any]
    ) -> Decision:
        engine, store = self.engine, self.store
        event: str | None = engine.lifecycle.event_for(rtype)
        tid = _required(record, "id")
        customer = self._known_customer(record)
        fired = None
        before = customer.status
        warnings = list(engine.ctx.facts(record).warnings)
        if store.seen(rtype, tid):
            event = None  # a transaction already seen raises no event again (SPEC §6)
        else:
            store.mark_seen(rtype, tid)
            opportunities = store.opportunities_of(customer.id)
            assert event is not None
            fired = engine.lifecycle.fire(event, record, customer, opportunities, self.explain)
            warnings.extend(w for w in fired.warnings if w not in warnings)
            customer = self._after_event(customer, fired.status)
        return self._transaction_decision(
            source, row, rtype, tid, customer, fired, warnings, event,
            previous=before if fired is not None and fired.transition else None,
        )

    def _status_change_row(self, source: str | None, row: int | None, record: Mapping[str, Any]) -> Decision:
        status = _required(record, "status")
        customer = self._known_customer(record)
        before = customer.status
        replay = self._fingerprint("status_change", customer.id, record)
        transition = None
        warnings = list(self.engine.ctx.facts(record).warnings)
        if self.store.seen(_APPLIED, replay):
            warnings.append(ALREADY_APPLIED)
        else:
            new_status, transition = self.engine.lifecycle.manual_change(customer, status)
            customer = self._after_event(customer, new_status)
            self.store.mark_seen(_APPLIED, replay)
        decision = self._transaction_decision(
            source, row, "status_change", text(record.get("id")), customer, None,
            warnings, None,
        )
        if transition is None:
            return decision
        return decision._replace(transition=transition, previous_status=before)

    # -- helpers ------------------------------------------------------------------------

    def _fingerprint(self, rtype: str, rid: str, record: Mapping[str, Any]) -> str:
        """What identifies a row once applied, so that applying the same input again
        changes nothing (SPEC §9) while another input's row with the same values (a
        status back to an earlier one) is still a change: the row's values and its
        place in its input: a file by its content digest and row number (see
        ``identify_sources``), any other stream by everything it held up to this row."""
        place = self._sources.get(self._source or "")
        if place is None:
            place = self._chain.hex()
        else:
            place += f"#{self._row}"
        content = repr(sorted((k, str(v)) for k, v in record.items() if not blank(v)))
        digest = hashlib.blake2b(f"{place}\n{content}".encode(), digest_size=12).hexdigest()
        return f"{rtype}:{rid}:{digest}"

    def _replayed_opportunity(
        self, source: str | None, row: int | None, current: Opportunity, customer: Customer | None
    ) -> Decision:
        """A row applied before: the opportunity as it stands, no event."""
        status = self.engine.opportunity_statuses.get(current.status)
        return self._transaction_decision(
            source, row, "opportunity", current.id, customer, None, [ALREADY_APPLIED], None,
            status=current.status, probability=current.probability,
            forecast=status.forecast if status else None,
        )

    def _known_customer(self, record: Mapping[str, Any]) -> Customer:
        cid = _required(record, "customer")
        customer = self.store.get_customer(cid)
        if customer is None:
            raise RecordError(
                "unknown-customer",
                f"unknown customer {cid!r}: neither in the state nor earlier in the run",
                field="customer",
            )
        return customer

    def _after_event(self, customer: Customer, status: str) -> Customer:
        if status == customer.status:
            return customer
        changed = Customer(
            customer.id, status, customer.owner, customer.territory,
            customer.owner_locked, customer.fields,
        )
        self._save(customer, changed)
        return changed

    def _save(self, old: Customer | None, new: Customer) -> None:
        """Store a customer and keep the reps' open-record counts in step (SPEC §4)."""
        is_open = self.engine.lifecycle.is_open
        was = old is not None and old.owner is not None and is_open(old.status)
        now = new.owner is not None and is_open(new.status)
        if was != now or (was and old is not None and old.owner != new.owner):
            if was and old is not None and old.owner is not None:
                self.store.add_open(old.owner, -1)
            if now and new.owner is not None:
                self.store.add_open(new.owner, +1)
        self.store.put_customer(new)

    def _transaction_decision(
        self,
        source: str | None,
        row: int | None,
        rtype: str,
        rid: str | None,
        customer: Customer | None,
        fired: Any,
        warnings: list[str],
        event: str | None,
        *,
        status: str | None = None,
        probability: float | None = None,
        forecast: str | None = None,
        previous: str | None = None,
    ) -> Decision:
        lifecycle = self.engine.lifecycle
        if status is None and customer is not None:
            status, probability = customer.status, lifecycle.probability(customer.status)
        trace = None
        if self.explain:
            trace = tuple(fired.trace or ()) if fired is not None else ()
        return Decision(
            source, row, rtype, rid,
            owner=customer.owner if customer else None,
            territory=customer.territory if customer else None,
            status=status, probability=probability,
            stage=lifecycle.stage(customer.status) if customer else None,
            previous_status=previous,
            transition=fired.transition if fired is not None else None,
            event=event, warnings=tuple(warnings),
            customer=customer.id if customer else None,
            customer_status=customer.status if customer else None, forecast=forecast,
            trace=trace,
        )

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
            return Decision(source, row, rtype, rid, error=error.to_dict(), customer=customer_id,
                            trace=() if self.explain else None)
        # a transaction row shows its customer as it stands, unchanged (SPEC §8)
        return Decision(
            source, row, rtype, rid,
            owner=customer.owner, territory=customer.territory,
            stage=self.engine.lifecycle.stage(customer.status),
            error=error.to_dict(), customer=customer_id, customer_status=customer.status,
            trace=() if self.explain else None,
        )

    def _notice(self, notices: Iterable[str]) -> None:
        for notice in notices:
            if notice not in self.notices:
                self.notices.append(notice)

    # -- forecast ----------------------------------------------------------------------

    def forecast(
        self,
        rows: Iterable[Mapping[str, Any] | InputRow],
        *,
        by: str = "owner",
        period: str = "quarter",
    ) -> tuple[ForecastReport, list[Decision]]:
        """Process ``rows`` (their lifecycle first, so owners resolve), then forecast
        every opportunity they and the state hold (SPEC §7). Also returns the
        decisions of the rows in error."""
        where: dict[str, tuple[str, int | None]] = {}
        failed: list[Decision] = []
        for decision in self.process(rows):
            if decision.error is not None:
                failed.append(decision)
            elif decision.type == "opportunity" and decision.id is not None:
                where[decision.id] = (decision.source or "records", decision.row)
        settings = self.engine.config.forecast
        report = build(
            self._forecast_items(where), by=by, period=period,  # type: ignore[arg-type]
            weighted=settings.weighted, minimum_probability=settings.minimum_probability,
        )
        return report, failed

    def _forecast_items(self, where: Mapping[str, tuple[str, int | None]]) -> Iterator[ForecastItem]:
        statuses = self.engine.opportunity_statuses
        customers: dict[str, Customer | None] = {}
        for o in self.store.all_opportunities():
            status = statuses.get(o.status)
            if status is None:
                continue  # a status the configuration no longer has
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


def _truthy(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return text(value) is not None and str(value).strip().lower() in ("true", "1", "yes", "y")


def _required(record: Mapping[str, Any], field: str) -> str:
    value = text(record.get(field))
    if value is None:
        raise RecordError("missing-field", f"required field '{field}' is missing or empty", field=field)
    return value


__all__ = ["BATCH_ROWS", "TRANSACTION_EVENTS", "Engine", "Session", "compile_config", "load"]
