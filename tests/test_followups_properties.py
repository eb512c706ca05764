"""Follow-ups' invariants over random months (hypothesis): carrying out what is due
acts only on what `due` listed, at most once per follow-up and clock start; a second
run for the same day does nothing; the reps' open-record counts stay equal to a count
from the customers; and both lifecycle evaluators decide the same."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_lifecycle_driver import write_config

from sfa_rules.engine.core import Engine, load
from sfa_rules.engine.followups import FollowUps
from sfa_rules.lifecycle import durable as lifecycle_durable
from sfa_rules.state import MemoryStore

CASES = Path(__file__).parent / "cases" / "followups" / "month.yaml"
START = date(2026, 3, 2)
KINDS = ("call", "email", "meeting", "note")


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Engine, FollowUps]]:
    import yaml

    folder = write_config(yaml.safe_load(CASES.read_text())["config"],
                          tmp_path_factory.mktemp("config"))
    names = ["native", *(["durable"] if lifecycle_durable.available() else [])]
    out = {}
    for name in names:
        engine = load(folder, lifecycle_engine=name)  # type: ignore[arg-type]
        out[name] = (engine, FollowUps(engine))
    return out


def _day(offset: int) -> str:
    return (START + timedelta(days=offset)).isoformat()


SCRIPTS = st.fixed_dictionaries({
    "leads": st.lists(st.tuples(st.sampled_from(["CA", "NV"]), st.integers(0, 20),
                                st.sampled_from(["lead", "prospect"])), min_size=1, max_size=10),
    "activities": st.lists(st.tuples(st.integers(0, 9), st.sampled_from(KINDS),
                                     st.integers(0, 30)), max_size=12),
    "days": st.lists(st.integers(0, 45), min_size=1, max_size=4),
})


def _month(engine: Engine, follow_ups: FollowUps, script: dict[str, Any]) -> list[Any]:
    store = MemoryStore()
    rows: list[dict[str, Any]] = [
        {"type": kind, "id": f"L{i}", "state": state, "created": _day(offset)}
        for i, (state, offset, kind) in enumerate(script["leads"])]
    rows += [{"type": "activity", "customer": f"L{i % len(script['leads'])}", "kind": kind,
              "date": _day(offset)} for i, kind, offset in script["activities"]]
    session = engine.session(store, as_of=_day(0))
    assert all(d.error is None for d in session.process(rows))
    open_statuses = [s.id for s in engine.config.statuses if engine.lifecycle.is_open(s.id)]
    seen: list[Any] = []
    for day in map(_day, sorted(script["days"])):
        due = follow_ups.due(store, day)
        done = [d.to_dict() for d in follow_ups.carry_out(store, day)]
        listed = {d.customer for d in due}
        assert {d["id"] for d in done} <= listed  # nothing acted on that was not due
        assert all(d["type"] == "follow_up" and d["error"] is None for d in done)
        assert list(follow_ups.carry_out(store, day)) == []  # a second run: nothing
        assert {(d.customer, d.follow_up) for d in follow_ups.due(store, day)} <= {
            (d.customer, d.follow_up) for d in due}  # nothing new became due by acting
        assert store.recount_loads(open_statuses) == {
            rep: n for rep, n in sorted(store.loads().items()) if n}
        seen.append((day, [d.to_dict() for d in due], done))
    return seen


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(script=SCRIPTS)
def test_carrying_out_acts_once_on_what_is_due(
    engines: dict[str, tuple[Engine, FollowUps]], script: dict[str, Any]
) -> None:
    results = [_month(engine, follow_ups, script) for engine, follow_ups in engines.values()]
    assert all(r == results[0] for r in results)  # native and durable-rules alike
