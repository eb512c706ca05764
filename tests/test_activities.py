"""Activity and contact rows, their events, the customer's facts and history (SPEC §18):
the case files of tests/cases/activities/*.yaml, through the engine on both lifecycle
evaluators and on a memory and an SQLite store.

A case holds a configuration (as tests/test_lifecycle.py's), ``as_of``, optionally
``reassign``, the rows (each with its ``type``) and per row the decision keys that
matter (``expect``; ``error`` compared key by key); ``facts`` the customer fields
after the run, ``history`` each customer's history as ``[date, kind, detail subset]``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from test_lifecycle_driver import write_config

from sfa_rules.engine.core import load
from sfa_rules.lifecycle import durable as lifecycle_durable
from sfa_rules.state import MemoryStore, SQLiteStore, Store

CASES = sorted((Path(__file__).parent / "cases" / "activities").glob("*.yaml"))


def _case(path: Path) -> dict[str, Any]:
    case: dict[str, Any] = yaml.safe_load(path.read_text())
    assert len(case["rows"]) == len(case["expect"]), "one expectation per row"
    return case


def _plain(value: Any) -> Any:
    """YAML dates as the decisions and the state give them (ISO text)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value.isoformat() if hasattr(value, "isoformat") else value


def _run(
    case: dict[str, Any], tmp_path: Path, engine: str, store: Store, check: bool = False
) -> list[dict[str, Any]]:
    """The case's decisions (checked, with the store's facts and history, if ``check``:
    before the session closes its store)."""
    folder = write_config(case.get("config", "shipped"), tmp_path / "config")
    with load(folder, lifecycle_engine=engine) as eng:  # type: ignore[arg-type]
        with eng.session(store, as_of=str(case["as_of"]),
                         reassign=case.get("reassign", False)) as session:
            rows = [_plain(dict(row)) for row in case["rows"]]
            decisions = [d.to_dict() for d in session.process(rows)]
            session.commit()
            if check:
                _check(case, decisions, store)
    return decisions


def _check(case: dict[str, Any], decisions: list[dict[str, Any]], store: Store) -> None:
    for i, (got, want) in enumerate(zip(decisions, _plain(case["expect"]), strict=True), 1):
        for key, value in want.items():
            if key == "error" and isinstance(value, dict):
                assert got["error"] is not None, f"row {i}: {got}"
                assert {k: got["error"][k] for k in value} == value, f"row {i}: {got}"
            else:
                assert got.get(key) == value, f"row {i} {key}: {got}"
    for cid, facts in _plain(case.get("facts", {})).items():
        customer = store.get_customer(cid)
        assert customer is not None, cid
        assert {k: customer._asdict()[k] for k in facts} == facts, cid
    for cid, lines in _plain(case.get("history", {})).items():
        got_lines = store.history_of(cid)
        assert len(got_lines) == len(lines), [(e.date, e.kind, e.detail) for e in got_lines]
        for entry, (day, kind, detail) in zip(got_lines, lines, strict=True):
            assert (entry.date, entry.kind) == (day, kind), entry
            assert {k: entry.detail.get(k) for k in detail} == detail, entry
            assert entry.source is not None and entry.source.startswith("row ")


def _store(kind: str, tmp_path: Path) -> Store:
    return MemoryStore() if kind == "memory" else SQLiteStore(tmp_path / "s.db", dry_run=False)


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
@pytest.mark.parametrize("engine", ["native", "durable"])
@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_case(path: Path, engine: str, kind: str, tmp_path: Path) -> None:
    if engine == "durable" and not lifecycle_durable.available():
        pytest.skip("durable-rules cannot be imported here")
    case = _case(path)
    _run(case, tmp_path, engine, _store(kind, tmp_path), check=True)


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_both_evaluators_decide_identically(path: Path, tmp_path: Path) -> None:
    if not lifecycle_durable.available():
        pytest.skip("durable-rules cannot be imported here")
    case = _case(path)
    native = _run(case, tmp_path / "n", "native", MemoryStore())
    durable = _run(case, tmp_path / "d", "durable", MemoryStore())
    assert native == durable
