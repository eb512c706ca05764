"""Follow-ups over a scripted month (SPEC §18): the cases of tests/cases/followups/*.yaml,
run on both lifecycle evaluators and on the memory, SQLite and PostgreSQL stores, and
the two evaluators compared on every case.

A case file holds a ``config`` (as tests/test_lifecycle.py's) and ``cases``, each a
list of ``steps``: ``apply`` rows as of a day; ``due`` as of a day, expecting rows
``[customer, follow_up, clock_start, due, days_overdue]``; ``follow_up`` as of a day,
expecting per decision the keys that matter; ``facts`` a customer's fields (owner,
status, clocks) and ``loads`` the reps' open records.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from test_activities import _plain
from test_lifecycle_driver import write_config
from test_state import make_factory

from sfa_rules.engine.core import load
from sfa_rules.engine.followups import FollowUps
from sfa_rules.lifecycle import durable as lifecycle_durable
from sfa_rules.lifecycle.followups import window_end
from sfa_rules.state import MemoryStore, Store

FILES = sorted((Path(__file__).parent / "cases" / "followups").glob("*.yaml"))
CASES = [(path, case) for path in FILES
         for case in yaml.safe_load(path.read_text())["cases"]]
IDS = [f"{path.stem}:{case['name']}" for path, case in CASES]


def _run(path: Path, case: dict[str, Any], folder: Path, engine: str, store: Store,
         check: bool) -> list[Any]:
    """Every step's outcome (checked against the case with ``check``)."""
    config = yaml.safe_load(path.read_text())["config"]
    folder = write_config(config, folder)
    out: list[Any] = []
    with load(folder, lifecycle_engine=engine) as eng, FollowUps(eng) as follow_ups:  # type: ignore[arg-type]
        assert follow_ups.evaluator.name == engine
        for step in _plain(case["steps"]):
            out.append(_step(eng, follow_ups, store, step, check))
    store.close()
    return out


def _step(eng: Any, follow_ups: FollowUps, store: Store, step: dict[str, Any],
          check: bool) -> Any:
    kind = next(iter(step))
    body = step[kind]
    if kind == "apply":
        session = eng.session(store, as_of=body["as_of"])
        got: Any = [d.to_dict() for d in session.process(body["rows"])]
        session.store.commit()
        assert all(d["error"] is None for d in got), got
    elif kind == "due":
        got = [[d.customer, d.follow_up, d.clock_start, d.due, d.days_overdue]
               for d in follow_ups.due(store, body["as_of"])]
        if check:
            assert got == body["expect"], got
    elif kind == "follow_up":
        got = [d.to_dict() for d in follow_ups.carry_out(store, body["as_of"])]
        store.commit()
        if check:
            assert len(got) == len(body["expect"]), got
            for decision, want in zip(got, body["expect"], strict=True):
                assert {k: decision.get(k) for k in want} == want, decision
    elif kind == "facts":
        got = {cid: store.get_customer(cid)._asdict() for cid in body}  # type: ignore[union-attr]
        if check:
            for cid, facts in body.items():
                assert {k: got[cid][k] for k in facts} == facts, cid
    else:
        assert kind == "loads", kind
        got = {rep: store.open_count(rep) for rep in body}
        if check:
            assert got == body
    return got


def _engine_here(engine: str) -> None:
    if engine == "durable" and not lifecycle_durable.available():
        pytest.skip("durable-rules cannot be imported here")


@pytest.mark.parametrize(("path", "case"), CASES, ids=IDS)
@pytest.mark.parametrize("engine", ["native", "durable"])
@pytest.mark.parametrize("kind", ["memory", "sqlite", "sqlite-tiny-buffer", "postgres"])
def test_case(path: Path, case: dict[str, Any], engine: str, kind: str, tmp_path: Path,
              request: pytest.FixtureRequest) -> None:
    _engine_here(engine)
    store = make_factory(request, kind, tmp_path)()
    _run(path, case, tmp_path / "config", engine, store, check=True)


@pytest.mark.parametrize(("path", "case"), CASES, ids=IDS)
def test_both_evaluators_agree(path: Path, case: dict[str, Any], tmp_path: Path) -> None:
    _engine_here("durable")
    native = _run(path, case, tmp_path / "n", "native", MemoryStore(), check=False)
    durable = _run(path, case, tmp_path / "d", "durable", MemoryStore(), check=False)
    assert native == durable


@pytest.mark.parametrize(("start", "within", "end"), [
    ("2026-03-03", "2 business days", "2026-03-05"),  # Tuesday + 2 = Thursday
    ("2026-03-05", "2 business days", "2026-03-09"),  # Thursday + 2 = Monday
    ("2026-03-06", "1 business day", "2026-03-09"),  # Friday + 1 = Monday
    ("2026-03-07", "1 business day", "2026-03-09"),  # Saturday + 1 = Monday
    ("2026-03-08", "2 business days", "2026-03-10"),  # Sunday + 2 = Tuesday
    ("2026-03-02", "5 business days", "2026-03-09"),  # a week
    ("2026-03-06", "10 business days", "2026-03-20"),
    ("2026-03-07", "0 business days", "2026-03-07"),
    ("2026-03-06", "3 days", "2026-03-09"),  # calendar days count weekends
    ("2026-02-27", "2 days", "2026-03-01"),
    ("2028-02-28", "1 day", "2028-02-29"),
])
def test_window_end(start: str, within: str, end: str) -> None:
    days, rest = within.split(" ", 1)
    assert window_end(start, int(days), rest.startswith("business")) == end
