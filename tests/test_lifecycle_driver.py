"""The lifecycle tests' shared driver (no tests here): a small driver that plays record
streams through ``Lifecycle`` with dict-backed state.

The real engine (``sfa_rules.engine``) orchestrates rows with a store; this driver does
the same few things for the lifecycle tests: keep customers, opportunities and seen
transactions in dicts, apply a row's effects only when it has no error, and report the
SPEC §8 fields the lifecycle decides.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from sfa_rules.config.loader import load_config
from sfa_rules.config.models import Config
from sfa_rules.criteria.ir import CriteriaContext
from sfa_rules.entities import Customer, Opportunity
from sfa_rules.errors import RecordError
from sfa_rules.lifecycle.statuses import TRANSACTION_EVENTS, Lifecycle

REPO = Path(__file__).resolve().parent.parent
CUSTOMER_TYPES = ("lead", "prospect", "customer")


def write_config(spec: Any, folder: Path) -> Path:
    """Materialise a case's ``config``: ``shipped``, or files (over ``base: shipped``)."""
    folder.mkdir(parents=True, exist_ok=True)
    files: Mapping[str, Any] = {}
    if spec == "shipped" or (isinstance(spec, dict) and spec.get("base") == "shipped"):
        for part in ("rules", "territories"):
            shutil.copytree(REPO / part, folder / part, dirs_exist_ok=True)
    if isinstance(spec, dict):
        files = spec.get("files", {})
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if text is None:
            path.unlink(missing_ok=True)
        else:
            path.write_text(text if isinstance(text, str) else yaml.safe_dump(text))
    return folder


def load(folder: Path, strict: bool = True) -> tuple[Config, Any]:
    """The configuration and its criteria context, failing on any configuration error.

    ``strict=False`` skips the semantic checks, for the few tests that show how the
    lifecycle copes with a configuration ``sfa validate`` rejects.
    """
    if strict:
        from sfa_rules.engine.core import compile_config

        config, _, ctx, problems = compile_config(folder)
    else:
        config, sourcemap, problems = load_config(folder)
        ctx = CriteriaContext(config, sourcemap)
        problems = problems + ctx.problems
    errors = [str(p) for p in problems if p.severity == "error"]
    assert not errors, errors
    return config, ctx


class World:
    """Dict-backed state: what a store keeps between rows."""

    def __init__(self) -> None:
        self.customers: dict[str, Customer] = {}
        self.opportunities: dict[str, Opportunity] = {}
        self.seen: set[tuple[str, str]] = set()
        self.seq = 0

    def opportunities_of(self, customer: str) -> list[Opportunity]:
        return [o for o in self.opportunities.values() if o.customer == customer]


def play(lc: Lifecycle, rows: Iterable[Mapping[str, Any]], explain: bool = False) -> list[dict[str, Any]]:
    """One decision dict per row, in order."""
    world = World()
    return [decide(lc, world, dict(row), explain) for row in rows]


def decide(lc: Lifecycle, world: World, row: dict[str, Any], explain: bool = False) -> dict[str, Any]:
    """Decide one row and apply its effects to ``world`` (none when it errs)."""
    kind = row.pop("type")
    try:
        out, effects = _decide(lc, world, kind, row, explain)
    except RecordError as err:
        return {"error": err.code, "message": err.message, "field": err.field, "warnings": []}
    for effect in effects:
        effect()
    return out


def _required(row: Mapping[str, Any], *names: str) -> None:
    for name in names:
        value = row.get(name)
        if value is None or not str(value).strip():
            raise RecordError("missing-field", f"missing {name}", field=name)


def _decide(lc: Lifecycle, world: World, kind: str, row: dict[str, Any], explain: bool) -> Any:
    if kind in CUSTOMER_TYPES:
        _required(row, "id")
        return _customer_row(lc, world, kind, row)
    if kind == "opportunity":
        _required(row, "id")
        return _opportunity_row(lc, world, row, explain)
    if kind in TRANSACTION_EVENTS:
        event = lc.event_for(kind)
        _required(row, "id", "customer")
        customer = _customer(world, row["customer"])
        key = (kind, str(row["id"]))
        new_status, transition, fired_event, trace = customer.status, None, None, None
        warnings: tuple[str, ...] = ()
        if key not in world.seen:
            fired_event = event
            result = lc.fire(event, row, customer, world.opportunities_of(customer.id), explain)
            new_status, transition, trace = result.status, result.transition, result.trace
            warnings = result.warnings
        effects = [lambda: world.seen.add(key), _put(world, customer, new_status)]
        out = _transaction_out(lc, customer, new_status, transition, fired_event, trace)
        out["warnings"] = [w.split(":")[0] for w in warnings]
        return out, effects
    if kind == "status_change":
        _required(row, "customer", "status")
        customer = _customer(world, row["customer"])
        new_status, transition = lc.manual_change(customer, row["status"])
        effects = [_put(world, customer, new_status)]
        return _transaction_out(lc, customer, new_status, transition, None, None), effects
    raise RecordError("unknown-type", f"unknown record type {kind!r}", field="type")


def _customer(world: World, cid: Any) -> Customer:
    customer = world.customers.get(str(cid).strip())
    if customer is None:
        raise RecordError("unknown-customer", f"unknown customer {cid!r}", field="customer")
    return customer


def _put(world: World, customer: Customer, status: str) -> Any:
    return lambda: world.customers.__setitem__(
        customer.id, customer._replace(status=status)
    )


def _customer_row(lc: Lifecycle, world: World, kind: str, row: dict[str, Any]) -> Any:
    cid = str(row["id"]).strip()
    known = world.customers.get(cid)
    fields = {k: v for k, v in row.items() if k not in ("id", "status")}
    warnings: tuple[str, ...] = ()
    if known is None:
        status, warnings = lc.new_customer(kind, row.get("status"))
        previous, transition = None, None
    else:
        status, transition = known.status, None
        if row.get("status") is not None and str(row["status"]).strip():
            status, transition = lc.manual_change(known, row["status"])
        previous = known.status if status != known.status else None
    value = Customer(id=cid, status=status, fields=fields)
    out = {
        "status": status,
        "stage": lc.stage(status),
        "probability": lc.probability(status),
        "previous_status": previous,
        "transition": transition,
        "event": None,
        "warnings": [w.split(":")[0] for w in warnings],
    }
    return out, [lambda: world.customers.__setitem__(cid, value)]


def _opportunity_row(lc: Lifecycle, world: World, row: dict[str, Any], explain: bool) -> Any:
    oid = str(row["id"]).strip()
    previous = world.opportunities.get(oid)
    cid = row.get("customer") or (previous.customer if previous else None)
    customer = world.customers.get(str(cid).strip()) if cid else None
    world.seq += 1
    outcome = lc.opportunity_row(row, previous, customer, world.seq)
    effects = [lambda: world.opportunities.__setitem__(oid, outcome.opportunity)]
    out: dict[str, Any] = {
        "status": outcome.status,
        "probability": outcome.probability,
        "forecast": outcome.forecast,
        "event": outcome.event,
        "transition": None,
        "customer_status": customer.status if customer else None,
        "previous_status": None,
        "warnings": [w.split(":")[0] for w in outcome.warnings],
    }
    if outcome.event is not None and customer is not None:
        after = [o for o in world.opportunities_of(customer.id) if o.id != oid]
        after.append(outcome.opportunity)
        result = lc.fire(outcome.event, row, customer, after, explain)
        out["customer_status"] = result.status
        out["transition"] = result.transition
        out["stage"] = lc.stage(result.status)
        if result.status != customer.status:
            out["previous_status"] = customer.status
        if result.trace is not None:
            out["trace"] = list(result.trace)
        out["warnings"] += [w.split(":")[0] for w in result.warnings]
        effects.append(_put(world, customer, result.status))
    elif customer is not None:
        out["stage"] = lc.stage(customer.status)
    return out, effects


def _transaction_out(
    lc: Lifecycle,
    customer: Customer,
    status: str,
    transition: str | None,
    event: str | None,
    trace: Any,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "status": status,
        "stage": lc.stage(status),
        "probability": lc.probability(status),
        "customer_status": status,
        "previous_status": customer.status if status != customer.status else None,
        "transition": transition,
        "event": event,
        "warnings": [],
    }
    if trace is not None:
        out["trace"] = list(trace)
    return out
