"""Assignment (SPEC §4, §5): case files of records in order, traces, rotation state,
preview, and properties of the distributions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sfa_rules.config import yamlread
from sfa_rules.config.models import Config
from sfa_rules.criteria.ir import CriteriaContext
from sfa_rules.routing.assignment import Assigner
from sfa_rules.routing.territories import TerritoryIndex

CASES = Path(__file__).parent / "cases" / "assignment"


class Positions:
    def at(self, path: tuple[Any, ...]) -> tuple[str, int, int]:
        return ("test.yaml", 1, len(path))


class RotationStore:
    """The three store methods assignment uses, dict-backed; rotation states are
    stored as JSON text, so anything not JSON-serialisable fails here."""

    def __init__(self, loads: dict[str, int] | None = None) -> None:
        self.rotations: dict[str, str] = {}
        self.loads = dict(loads or {})

    def get_rotation(self, tid: str) -> dict[str, Any] | None:
        text = self.rotations.get(tid)
        return None if text is None else json.loads(text)  # type: ignore[no-any-return]

    def set_rotation(self, tid: str, state: dict[str, Any]) -> None:
        self.rotations[tid] = json.dumps(state)

    def open_count(self, rep: str) -> int:
        return self.loads.get(rep, 0)


def assigner(config: dict[str, Any]) -> tuple[CriteriaContext, Assigner]:
    model = Config.model_validate(config)
    ctx = CriteriaContext(model, Positions())
    assert ctx.problems == []
    return ctx, Assigner(model, TerritoryIndex(model, ctx))


def case_files() -> list[Path]:
    return sorted(CASES.glob("*.yaml"))


@pytest.mark.parametrize("path", case_files(), ids=[p.stem for p in case_files()])
def test_assignment_case(path: Path) -> None:
    doc = yamlread.load(path.read_text(), path.name)
    assert not doc.problems, doc.problems
    case = doc.data
    ctx, engine = assigner(case["config"])
    store = RotationStore(case.get("loads"))
    got, want = [], []
    for step in case["records"]:
        facts = ctx.facts(step["record"])
        result = engine.assign(facts, step["record"], store, case.get("as_of"))
        got.append([result.owner, result.territory, result.assigned_by])
        want.append([step["owner"], step["territory"], step["assigned_by"]])
        if case.get("count_loads") and result.owner:
            store.loads[result.owner] = store.loads.get(result.owner, 0) + 1
    assert got == want


@pytest.mark.parametrize("path", case_files(), ids=[p.stem for p in case_files()])
def test_explain_gives_the_same_decisions(path: Path) -> None:
    case = yamlread.load(path.read_text(), path.name).data
    ctx, engine = assigner(case["config"])
    plain, explained = RotationStore(case.get("loads")), RotationStore(case.get("loads"))
    for step in case["records"]:
        a = engine.assign(ctx.facts(step["record"]), None, plain, case.get("as_of"))
        b = engine.assign(ctx.facts(step["record"]), None, explained, case.get("as_of"), explain=True)
        assert (a.owner, a.territory, a.assigned_by) == (b.owner, b.territory, b.assigned_by)
        assert a.trace is None and b.trace
        if case.get("count_loads") and a.owner:
            for s in (plain, explained):
                s.loads[a.owner] = s.loads.get(a.owner, 0) + 1
    assert plain.rotations == explained.rotations


TRACE_CONFIG: dict[str, Any] = {
    "reps": [
        {"id": "carla", "away": [{"from": "2026-12-20", "to": "2027-01-05"}]},
        {"id": "full", "capacity": {"max_open": 2}},
        {"id": "off", "active": False},
        {"id": "ana"},
    ],
    "assignment": {"overrides": [
        {"id": "vip", "when": {"tier": "gold"}, "assign_to": {"rep": "carla"}},
        {"id": "gov", "when": {"industry": "Government"}, "assign_to": {"rep": "ana"}},
    ]},
    "territories": [
        {"id": "west", "priority": 1, "when": {"state": ["CA", "OR"]}, "members": [{"rep": "ana"}]},
        {"id": "us", "priority": 2, "when": {"country": "US"},
         "members": [{"rep": "off"}, {"rep": "full"}, {"rep": "carla"}]},
        {"id": "pool", "default": True, "members": [{"rep": "ana"}]},
    ],
}


def test_trace_says_what_was_tried_and_why() -> None:
    ctx, engine = assigner(TRACE_CONFIG)
    store = RotationStore({"full": 2})
    record = {"tier": "gold", "country": "US", "state": "NV", "created": "2026-12-24"}
    result = engine.assign(ctx.facts(record), record, store, None, explain=True)
    assert (result.owner, result.territory, result.assigned_by) == ("ana", "pool", "territory:pool")
    assert result.trace == [
        {"step": "override", "id": "vip", "matched": True, "result": "skipped",
         "skipped": [{"rep": "carla", "reason": "away until 2027-01-05"}]},
        {"step": "override", "id": "gov", "matched": False,
         "why": [{"field": "industry", "op": "eq", "expected": "Government", "actual": None}]},
        {"step": "territory", "id": "west", "matched": False,
         "why": [{"field": "state", "op": "in", "expected": ["CA", "OR"], "actual": "NV"}]},
        {"step": "territory", "id": "us", "matched": True, "result": "no eligible member",
         "skipped": [{"rep": "off", "reason": "inactive"},
                     {"rep": "full", "reason": "at capacity 2/2"},
                     {"rep": "carla", "reason": "away until 2027-01-05"}]},
        {"step": "territory", "id": "pool", "matched": True, "result": "assigned to ana"},
    ]


def test_rotation_restarts_when_members_change() -> None:
    config = {"reps": [{"id": "a"}, {"id": "b"}, {"id": "c"}],
              "territories": [{"id": "t", "members": [{"rep": "a"}, {"rep": "b"}]}]}
    ctx, engine = assigner(config)
    store = RotationStore()
    first = engine.assign(ctx.facts({}), {}, store, "2026-01-01")
    assert (first.owner, first.notices) == ("a", ())
    changed = {**config, "territories": [{"id": "t", "members": [{"rep": "a"}, {"rep": "c"}, {"rep": "b"}]}]}
    ctx2, engine2 = assigner(changed)
    again = engine2.assign(ctx2.facts({}), {}, store, "2026-01-01")
    assert again.owner == "a"  # started again from the first member
    assert again.notices == ("rotation of territory t restarted: members changed",)
    assert engine2.assign(ctx2.facts({}), {}, store, "2026-01-01").notices == ()


def test_weights_are_part_of_the_signature() -> None:
    config: dict[str, Any] = {"reps": [{"id": "a"}, {"id": "b"}], "territories": [
        {"id": "t", "distribution": "weighted", "members": [{"rep": "a", "weight": 2}, {"rep": "b"}]}]}
    ctx, engine = assigner(config)
    store = RotationStore()
    engine.assign(ctx.facts({}), {}, store, "2026-01-01")
    config["territories"][0]["members"][1]["weight"] = 3
    ctx2, engine2 = assigner(config)
    assert engine2.assign(ctx2.facts({}), {}, store, "2026-01-01").notices


def test_preview_simulates_without_writing() -> None:
    config = {"reps": [{"id": "a"}, {"id": "b"}, {"id": "c", "capacity": {"max_open": 1}}],
              "territories": [
                  {"id": "w", "distribution": "weighted", "members": [{"rep": "a", "weight": 2}, {"rep": "b"}]},
                  {"id": "ll", "distribution": "least_loaded", "when": {"x": "y"},
                   "members": [{"rep": "a"}, {"rep": "b"}, {"rep": "c"}]},
              ]}
    ctx, engine = assigner(config)
    store = RotationStore({"a": 1})
    engine.assign(ctx.facts({}), {}, store, "2026-01-01")  # a
    before = dict(store.rotations)
    assert engine.preview("w", 7, store, "2026-01-01") == ["b", "a", "a", "b", "a", "a", "b"]
    assert store.rotations == before
    assert engine.preview("w", 7, store, "2026-01-01") == ["b", "a", "a", "b", "a", "a", "b"]
    # least loaded: each simulated pick adds one open record; c is full after one
    assert engine.preview("ll", 5, store, "2026-01-01") == ["b", "c", "a", "b", "a"]


def test_default_owner_must_be_active_rep() -> None:
    ctx, engine = assigner({"reps": [{"id": "boss", "active": False}],
                            "assignment": {"default_owner": {"rep": "boss"}}})
    result = engine.assign(ctx.facts({}), {}, RotationStore(), "2026-01-01")
    assert (result.owner, result.assigned_by) == (None, None)


def test_applies_to() -> None:
    _, engine = assigner({"assignment": {"applies_to": ["lead", "prospect"]}})
    assert engine.applies("lead") and not engine.applies("customer")


def test_keep_existing_owner_off_reassigns() -> None:
    ctx, engine = assigner({"reps": [{"id": "a"}], "assignment": {"keep_existing_owner": False},
                            "territories": [{"id": "t", "members": [{"rep": "a"}]}]})
    record = {"owner": "zed"}
    result = engine.assign(ctx.facts(record), record, RotationStore(), "2026-01-01")
    assert (result.owner, result.assigned_by) == ("a", "territory:t")


def test_only_territory_distribution_advances_rotation() -> None:
    config = {"reps": [{"id": "a"}, {"id": "b"}],
              "assignment": {"overrides": [{"id": "o", "when": {"vip": "yes"}, "assign_to": {"rep": "b"}}]},
              "territories": [{"id": "t", "members": [{"rep": "a"}, {"rep": "b"}]}]}
    ctx, engine = assigner(config)
    store = RotationStore()
    owners = [engine.assign(ctx.facts(r), r, store, "2026-01-01").owner
              for r in ({"vip": "yes"}, {"owner": "k"}, {}, {"vip": "yes"}, {})]
    assert owners == ["b", "k", "a", "b", "b"]


# -- properties -------------------------------------------------------------------


def territory_config(weights: list[int], distribution: str,
                     away: set[int] | None = None, inactive: set[int] | None = None) -> dict[str, Any]:
    reps = [{"id": f"r{i}", "active": i not in (inactive or set()),
             "away": [{"from": "2026-01-01", "to": "2026-12-31"}] if i in (away or set()) else []}
            for i in range(len(weights))]
    members = [{"rep": f"r{i}", "weight": w} for i, w in enumerate(weights)]
    return {"reps": reps, "territories": [{"id": "t", "members": members, "distribution": distribution}]}


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 7), records=st.integers(0, 60))
def test_round_robin_gives_each_floor_or_ceil_share(n: int, records: int) -> None:
    ctx, engine = assigner(territory_config([1] * n, "round_robin"))
    store = RotationStore()
    counts = {f"r{i}": 0 for i in range(n)}
    for _ in range(records):
        counts[engine.assign(ctx.facts({}), {}, store, "2027-01-01").owner or ""] += 1  # type: ignore[index]
    assert set(counts.values()) <= {records // n, -(-records // n)}


def smooth_weighted(weights: list[int], picks: int) -> list[int]:
    """nginx's smooth weighted round robin, as its source describes it."""
    current = [0] * len(weights)
    out = []
    for _ in range(picks):
        for i, w in enumerate(weights):
            current[i] += w
        best = max(range(len(weights)), key=lambda i: (current[i], -i))
        current[best] -= sum(weights)
        out.append(best)
    return out


@settings(max_examples=60, deadline=None)
@given(weights=st.lists(st.integers(1, 6), min_size=1, max_size=5), picks=st.integers(1, 40))
def test_weighted_is_the_smooth_sequence(weights: list[int], picks: int) -> None:
    ctx, engine = assigner(territory_config(weights, "weighted"))
    store = RotationStore()
    got = [engine.assign(ctx.facts({}), {}, store, "2027-01-01").owner for _ in range(picks)]
    assert got == [f"r{i}" for i in smooth_weighted(weights, picks)]
    per_cycle = sum(weights)
    if picks == per_cycle:  # one full cycle: exactly each weight
        assert [got.count(f"r{i}") for i in range(len(weights))] == weights


@settings(max_examples=80, deadline=None)
@given(weights=st.lists(st.integers(1, 4), min_size=1, max_size=6),
       distribution=st.sampled_from(["round_robin", "weighted", "least_loaded"]),
       away=st.sets(st.integers(0, 5)), inactive=st.sets(st.integers(0, 5)),
       dates=st.lists(st.sampled_from(["2025-06-01", "2026-06-01", "2027-06-01"]), max_size=30))
def test_ineligible_member_never_receives(weights: list[int], distribution: str, away: set[int],
                                          inactive: set[int], dates: list[str]) -> None:
    ctx, engine = assigner(territory_config(weights, distribution, away, inactive))
    store = RotationStore()
    for day in dates:
        owner = engine.assign(ctx.facts({"created": day}), None, store, None).owner
        if owner is None:
            continue
        i = int(owner[1:])
        assert i not in inactive
        assert not (i in away and day == "2026-06-01")
    eligible_any = any(i not in inactive for i in range(len(weights)))
    if eligible_any and "2027-06-01" in dates:
        assert engine.assign(ctx.facts({"created": "2027-06-01"}), None, store, None).owner


def test_restart_notice_once_even_when_nobody_is_eligible() -> None:
    ctx, engine = assigner({"reps": [{"id": "a", "active": False}, {"id": "b", "active": False}],
                            "territories": [{"id": "t", "members": [{"rep": "a"}, {"rep": "b"}]}]})
    store = RotationStore()
    store.set_rotation("t", {"sig": "old*1", "last": 0})
    notices = [engine.assign(ctx.facts({}), {}, store, "2026-01-01").notices for _ in range(3)]
    assert notices == [("rotation of territory t restarted: members changed",), (), ()]
