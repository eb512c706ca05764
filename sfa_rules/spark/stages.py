"""What Spark's tasks run (SPEC §21): each loads the engine once per Python worker from
the configuration folder's path, and decides rows with the sequential engine.

Rows travel as ``(index, record)``: ``index`` is the row's 0-based position in the
input DataFrame, ``record`` its fields as a dict. Decisions travel as dicts (§8's JSON,
without the trace).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from sfa_rules.engine.core import Engine, load
from sfa_rules.engine.decision import TRANSACTION_TYPES
from sfa_rules.spark.plan import full_loads, load_relevant, match_keys, row_keys
from sfa_rules.state.store import MemoryStore

__all__ = ["alone", "engine_for", "ordered_pass", "with_type"]

_ENGINES: dict[tuple[str, str], Engine] = {}


def engine_for(config: str, lifecycle_engine: str) -> Engine:
    """The compiled configuration, once per worker process."""
    key = (config, lifecycle_engine)
    engine = _ENGINES.get(key)
    if engine is None:
        engine = load(config, lifecycle_engine=lifecycle_engine)  # type: ignore[arg-type]
        _ENGINES[key] = engine
    return engine


def with_type(record: dict[str, Any], type_: str | None) -> dict[str, Any]:
    """The record with ``type_`` where it names no type of its own (as ``--type``)."""
    if type_ is not None and record.get("type") in (None, ""):
        return {**record, "type": type_}
    return record


def _plain(decision: Any, index: int) -> dict[str, Any]:
    out: dict[str, Any] = decision._replace(row=index + 1, trace=None).to_dict()
    out.pop("trace", None)
    return out


def alone(
    rows: Iterable[tuple[int, dict[str, Any]]], config: str, lifecycle_engine: str,
    as_of: str | None,
) -> Iterator[tuple[int, dict[str, Any], list[str], str | None, bool]]:
    """Each row decided alone against an empty state (the parallel matching): its
    index, decision, keys (see `plan`), id, and whether its type is one the
    distributed run supports (lead, prospect, customer) or the row is in error."""
    engine = engine_for(config, lifecycle_engine)
    relevant, dependent = load_relevant(engine)
    capped = any(rep.max_open is not None for rep in engine.assigner.reps.values())
    # one session per partition; each row's writes are rolled back, so every row is
    # decided against the empty state (or the all-full one) as if alone
    empty, full = MemoryStore(), full_loads(engine)
    with engine.session(empty, as_of=as_of, explain=True) as alone_session, \
            engine.session(full, as_of=as_of, explain=True) as full_session:
        for index, record in rows:
            (normal,) = alone_session.process([record])
            empty.rollback()
            traced = [normal._asdict()]
            if capped:
                (if_full,) = full_session.process([record])
                full.rollback()
                traced.append(if_full._asdict())
            keys = sorted(row_keys(engine, traced, relevant, dependent)
                          | match_keys(engine, record, normal.error is None))
            supported = normal.type not in TRANSACTION_TYPES  # lead types, or unknown-type
            yield index, _plain(normal, index), keys, normal.id, supported


def ordered_pass(
    rows: Iterable[tuple[tuple[str, int], dict[str, Any]]], config: str,
    lifecycle_engine: str, as_of: str | None,
) -> Iterator[tuple[int, dict[str, Any]]]:
    """The rows of one or more components, sorted by (component, index): one session
    per component, in input order (the ordered pass)."""
    engine = engine_for(config, lifecycle_engine)
    current: str | None = None
    session = None
    try:
        for (component, index), record in rows:
            if component != current:
                if session is not None:
                    session.close()
                session = engine.session(MemoryStore(), as_of=as_of)
                current = component
            assert session is not None
            (decision,) = session.process([record])
            yield index, _plain(decision, index)
    finally:
        if session is not None:
            session.close()


def window_owner(decision: Mapping[str, Any], sequence: list[str], rank: int) -> dict[str, Any]:
    """The alone decision with the owner of the ``rank``-th (1-based) record of its
    territory's window."""
    return {**decision, "owner": sequence[(rank - 1) % len(sequence)]}
