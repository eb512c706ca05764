"""The two transition evaluators: durable-rules housekeeping, engine choice, traces,
and a property test that both decide identically on random event streams."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_lifecycle_driver import load, play, write_config

from sfa_rules.entities import Customer, Opportunity
from sfa_rules.lifecycle import durable as lifecycle_durable
from sfa_rules.lifecycle.portfolio import Portfolio
from sfa_rules.lifecycle.statuses import Lifecycle

needs_durable = pytest.mark.skipif(
    not lifecycle_durable.available(), reason="durable-rules cannot be imported here"
)


@pytest.fixture(scope="module")
def shipped(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    return load(write_config("shipped", tmp_path_factory.mktemp("shipped")))


def test_native_is_chosen_by_name(shipped: tuple[Any, Any]) -> None:
    with Lifecycle(*shipped, engine="native") as lc:
        assert lc.engine == "native"


@needs_durable
def test_auto_picks_durable_where_it_imports(shipped: tuple[Any, Any]) -> None:
    with Lifecycle(*shipped, engine="auto") as lc:
        assert lc.engine == "durable"


def test_auto_falls_back_and_durable_refuses_without_durable_rules(
    shipped: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lifecycle_durable, "_IMPORTED", False)
    with Lifecycle(*shipped, engine="auto") as lc:
        assert lc.engine == "native"
    with pytest.raises(lifecycle_durable.EngineUnavailable, match="native engine"):
        Lifecycle(*shipped, engine="durable")


def _many_transitions(n: int) -> str:
    """A lifecycle of ``n`` guarded transitions on one event: past 128 durable-rules'
    C core refuses the ruleset (error 107)."""
    lifecycle = (Path(__file__).parent.parent / "rules" / "lifecycle.yaml").read_text()
    head = lifecycle.split("  transitions:")[0]
    rules = "\n".join(
        f"    - id: t{i}\n      on: [opportunity.created, estimate.created]\n"
        f"      from: {{stage: lead}}\n      when: {{amount: {{gt: {1000 - i}}}}}\n"
        "      to: PROSPECT-Proposal" for i in range(n))
    return head + "  transitions:\n" + rules + "\n  manual:\n    allow: any\n"


@needs_durable
def test_a_ruleset_durable_rules_cannot_hold_runs_natively_under_auto(tmp_path: Path) -> None:
    folder = write_config({"base": "shipped", "files": {
        "rules/lifecycle.yaml": _many_transitions(129)}}, tmp_path)
    with Lifecycle(*load(folder), engine="auto") as lc:
        assert lc.engine == "native"
    with pytest.raises(lifecycle_durable.EngineUnavailable, match="error code: 107"):
        Lifecycle(*load(folder), engine="durable")
    import sfa_rules

    rows = [{"type": "lead", "id": "L1"},
            {"type": "opportunity", "id": "O1", "customer": "L1", "status": "Proposal",
             "amount": "990"}]
    with sfa_rules.load(folder) as engine, engine.session() as session:
        decided = list(session.process(rows))
    # the first whose guard holds: 990 > 1000 - 11
    assert (decided[1].transition, decided[1].customer_status) == ("t11", "PROSPECT-Proposal")


def test_an_unknown_engine_name_is_refused(shipped: tuple[Any, Any]) -> None:
    with pytest.raises(ValueError, match="'auto', 'durable' or 'native', not 'NATIVE'"):
        Lifecycle(*shipped, engine="NATIVE")  # type: ignore[arg-type]


def test_importing_sfa_rules_leaves_no_ruleset_behind() -> None:
    code = (
        "import sfa_rules, sfa_rules.lifecycle.statuses, sfa_rules.lifecycle.durable\n"
        "import sys\n"
        "lang = sys.modules.get('durable.lang')\n"
        "assert lang is None or (not lang._rulesets and lang._main_host is None), 'global state'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@needs_durable
def test_each_engine_has_its_own_ruleset_and_frees_it(shipped: tuple[Any, Any]) -> None:
    import durable_rules_engine
    from durable import lang

    first = Lifecycle(*shipped, engine="durable")
    second = Lifecycle(*shipped, engine="durable")
    a, b = first.evaluator, second.evaluator
    assert a._ruleset_name != b._ruleset_name  # type: ignore[attr-defined]
    assert not lang._rulesets and lang._main_host is None  # nothing process-global
    handle = a._ruleset._handle  # type: ignore[attr-defined]
    first.close()
    first.close()  # idempotent
    with pytest.raises(durable_rules_engine.error):  # the C engine no longer knows it
        durable_rules_engine.get_state(handle, "0")
    # The other engine is unaffected, and a closed one decides nothing.
    lead = Customer("L1", "LEAD-New")
    assert second.fire("estimate.created", {}, lead, []).status == "PROSPECT-Proposal"
    assert first.fire("estimate.created", {}, lead, []).status == "LEAD-New"
    second.close()


@needs_durable
def test_many_engines_do_not_exhaust_handles(shipped: tuple[Any, Any]) -> None:
    # One ruleset per engine, freed on close: far more engines than a leak would allow
    # within the test's time would still be fine; 300 shows nothing accumulates per use.
    for _ in range(300):
        with Lifecycle(*shipped, engine="durable") as lc:
            lc.fire("invoice.created", {}, Customer("C", "LEAD-New"), [])


@needs_durable
def test_an_event_no_rule_handles_is_no_transition(shipped: tuple[Any, Any]) -> None:
    with Lifecycle(*shipped, engine="durable") as lc:
        result = lc.fire("invoice.created", {}, Customer("C", "CUSTOMER-Closed Won"), [])
    assert (result.status, result.transition, result.fired) == ("CUSTOMER-Closed Won", None, None)


def test_trace_says_why_each_transition_failed(tmp_path: Path) -> None:
    config = {
        "files": {
            "rules/lifecycle.yaml": """
statuses:
  - {id: LEAD-New, stage: lead, probability: 0}
  - {id: PROSPECT-Open, stage: prospect, probability: 20}
  - {id: CUSTOMER-Won, stage: customer, probability: 100}
lifecycle:
  defaults: {customer: CUSTOMER-Won}
  transitions:
    - {id: other-event, on: [estimate.created], to: PROSPECT-Open}
    - {id: wrong-from, on: [invoice.created], from: {stage: lead}, to: CUSTOMER-Won}
    - {id: lower, on: [invoice.created], to: LEAD-New}
    - {id: unset, on: [invoice.created], to: {default: prospect_with_estimate}}
    - {id: guarded, on: [invoice.created], when: {amount: {gt: 100}}, to: CUSTOMER-Won}
    - {id: fires, on: [invoice.created], to: PROSPECT-Open}
    - {id: never-tried, on: [invoice.created], to: CUSTOMER-Won}
"""
        }
    }
    # `sfa validate` rejects a transition to an unset slot; the lifecycle still copes.
    cfg, ctx = load(write_config(config, tmp_path), strict=False)
    with Lifecycle(cfg, ctx, engine="native") as lc:
        result = lc.fire(
            "invoice.created", {"amount": "50"}, Customer("P", "PROSPECT-Open"), [], explain=True
        )
    assert result.trace is not None
    steps = {step["id"]: step for step in result.trace}
    assert list(steps) == ["other-event", "wrong-from", "lower", "unset", "guarded", "fires"]
    assert all(step["step"] == "transition" for step in result.trace)
    assert steps["other-event"]["why"] == "event invoice.created is not in on"
    assert steps["wrong-from"]["from"] == {"stage": ["lead"]}
    assert steps["lower"]["why"].startswith("lower stage")
    assert "prospect_with_estimate is not set" in steps["unset"]["why"]
    assert steps["guarded"]["why"] == [
        {"field": "amount", "op": "gt", "expected": 100, "actual": "50"}
    ]
    assert steps["fires"] == {
        "step": "transition", "id": "fires", "matched": True, "to": "PROSPECT-Open"
    }
    # The target is the current status: it fired, but the decision names no transition.
    assert (result.status, result.transition, result.fired) == ("PROSPECT-Open", None, "fires")


# -- property: both evaluators decide identically on random streams -----------------

CUSTOMERS = ["C1", "C2", "C3"]
OPP_STATUSES = [
    "Identified Opportunity", "In Discussion", "Proposal", "In Negotiation", "Purchasing",
    "Closed Won", "Closed Lost", "Bogus",
]
CUSTOMER_STATUSES = ["LEAD-New", "LEAD-Dead", "PROSPECT-Proposal", "PROSPECT-Closed Lost",
                     "CUSTOMER-Closed Won"]


def _row() -> st.SearchStrategy[dict[str, Any]]:
    cid = st.sampled_from(CUSTOMERS)
    return st.one_of(
        st.builds(lambda t, c, s: {"type": t, "id": c, "status": s},
                  st.sampled_from(["lead", "prospect", "customer"]), cid,
                  st.sampled_from([None, *CUSTOMER_STATUSES])),
        st.builds(lambda o, c, s, p: {"type": "opportunity", "id": o, "customer": c,
                                      "status": s, "probability": p},
                  st.sampled_from(["O1", "O2", "O3", "O4"]), cid, st.sampled_from(OPP_STATUSES),
                  st.sampled_from([None, None, 5, "95", 150])),
        st.builds(lambda t, i, c, a: {"type": t, "id": i, "customer": c, "amount": a},
                  st.sampled_from(["estimate", "sales_order", "invoice", "cash_sale"]),
                  st.sampled_from(["T1", "T2", "T3"]), cid, st.sampled_from([None, "0", "10", "x"])),
        st.builds(lambda c, s: {"type": "status_change", "customer": c, "status": s},
                  cid, st.sampled_from(CUSTOMER_STATUSES)),
    )


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    """The shipped configuration plus guards on event fields, for the property test."""
    extra = """
    - id: big-estimate-makes-customer
      on: [estimate.created]
      from: {stage: prospect}
      when: {amount: {gte: 10}, customer.won_opportunities: 0}
      to: CUSTOMER-Closed Won
"""
    folder = write_config("shipped", tmp_path_factory.mktemp("guarded"))
    path = folder / "rules" / "lifecycle.yaml"
    text = path.read_text()
    marker = "  transitions:\n"
    path.write_text(text.replace(marker, marker + extra.lstrip("\n"), 1))
    return load(folder)


@needs_durable
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(_row(), max_size=25))
def test_random_streams_decide_identically(rows: list[dict[str, Any]], guarded: tuple[Any, Any]) -> None:
    with Lifecycle(*guarded, engine="native") as native, Lifecycle(*guarded, engine="durable") as durable:
        decisions = play(native, rows, explain=True)
        assert decisions == play(durable, rows, explain=True)
        assert play(native, rows) == play(durable, rows)


def _random_rows(rng: random.Random, n: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for i in range(n):
        cid = rng.choice(CUSTOMERS)
        kind = rng.random()
        if kind < 0.15:
            rows.append({"type": rng.choice(["lead", "prospect", "customer"]), "id": cid,
                         "status": rng.choice([None, None, None, *CUSTOMER_STATUSES])})
        elif kind < 0.65:
            # Outcomes weigh more here, so that customers also run out of open deals.
            rows.append({"type": "opportunity", "id": f"O{rng.randrange(6)}", "customer": cid,
                         "status": rng.choice([*OPP_STATUSES, "Closed Lost", "Closed Lost"]),
                         "probability": rng.choice([None, None, None, 5, "95", 150])})
        elif kind < 0.9:
            rows.append({"type": rng.choice(["estimate", "sales_order", "invoice", "cash_sale"]),
                         "id": f"T{i}", "customer": cid,
                         "amount": rng.choice([None, "0", "10", "500", "x"])})
        else:
            rows.append({"type": "status_change", "customer": cid,
                         "status": rng.choice(CUSTOMER_STATUSES)})
    return rows


@needs_durable
def test_long_seeded_stream_decides_identically_and_reaches_every_transition(
    guarded: tuple[Any, Any],
) -> None:
    rows = _random_rows(random.Random(20261127), 3000)
    with Lifecycle(*guarded, engine="native") as native, Lifecycle(*guarded, engine="durable") as durable:
        decisions = play(native, rows, explain=True)
        assert decisions == play(durable, rows, explain=True)
    fired = {d["transition"] for d in decisions if d.get("transition")}
    config = guarded[0]
    assert fired == {t.id for t in config.lifecycle.transitions} | {"manual"}


@needs_durable
def test_durable_keeps_no_state_between_events(shipped: tuple[Any, Any]) -> None:
    """Every posted event is consumed: nothing piles up in durable-rules' session."""
    lead = Customer("L1", "LEAD-New")
    with Lifecycle(*shipped, engine="durable") as lc:
        for i in range(500):
            lc.fire(["estimate.created", "invoice.created", "opportunity.lost"][i % 3], {}, lead, [])
        ruleset = lc.evaluator._ruleset  # type: ignore[attr-defined]
        assert ruleset.get_pending_events("0") == []
        assert ruleset.get_facts("0") == []


# -- follow: the most advanced open opportunity -------------------------------------

_writes = st.lists(
    st.builds(
        lambda i, s, p: (f"O{i}", s, p),
        st.integers(0, 12), st.sampled_from(OPP_STATUSES), st.integers(0, 100),
    ),
    max_size=40,
)
_OUTCOME = {"Closed Won": "won", "Closed Lost": "lost"}  # "Bogus": unknown, counted open


@settings(max_examples=300)
@given(writes=_writes)
def test_portfolio_kept_one_write_at_a_time_equals_the_list_summarised(
    writes: list[tuple[str, str, int]],
) -> None:
    """The engine keeps each customer's portfolio up to date write by write (reading the
    list again only when the best one got worse); it must equal the whole list summarised,
    and its best is the highest probability, then the most recent, then the lowest id."""
    open_ids = frozenset(OPP_STATUSES[:5])
    outcome = _OUTCOME.get
    current: dict[str, Opportunity] = {}
    held = Portfolio()
    for seq, (oid, status, probability) in enumerate(writes, start=1):
        new = Opportunity(oid, "C", status, probability, seq=seq)
        held.put(current.get(oid), new, outcome, open_ids)
        current[oid] = new
        listed = [current[i] for i in sorted(current)]
        if held.stale:
            held = Portfolio.of(listed, outcome, open_ids)
        whole = Portfolio.of(listed, outcome, open_ids)
        assert (held.counts(), held.best, held.max_seq) == (whole.counts(), whole.best, whole.max_seq)
        candidates = [o for o in listed if o.status in open_ids]
        top = min(candidates, key=lambda o: (-o.probability, -o.seq, o.id), default=None)
        assert held.best == top
        assert held.counts() == (
            sum(1 for o in listed if outcome(o.status) is None),
            sum(1 for o in listed if outcome(o.status) == "won"),
            sum(1 for o in listed if outcome(o.status) == "lost"),
        )


@pytest.mark.parametrize("engine", ["native", pytest.param("durable", marks=needs_durable)])
def test_switched_off_feature_never_fires_and_says_so(engine: str, tmp_path: Path) -> None:
    config = {"base": "shipped", "files": {
        "rules/settings.yaml": "settings: {opportunities: false, estimates: false}\n"}}
    cfg, ctx = load(write_config(config, tmp_path))
    lead = Customer("L1", "LEAD-New")
    with Lifecycle(cfg, ctx, engine=engine) as lc:  # type: ignore[arg-type]
        for event, feature, listener in [
            ("opportunity.created", "opportunities", "opportunity-makes-prospect"),
            ("estimate.created", "estimates", "estimate-makes-prospect"),
        ]:
            result = lc.fire(event, {}, lead, [], explain=True)
            assert (result.status, result.transition, result.fired) == ("LEAD-New", None, None)
            assert result.trace is not None
            steps = {step["id"]: step for step in result.trace}
            assert steps[listener]["why"] == f"feature off: settings.{feature} is false"
        assert lc.fire("invoice.created", {}, lead, []).transition == "sale-makes-customer"


@pytest.mark.parametrize("engine", ["native", "durable"])
def test_a_guard_trace_shows_values_as_written(tmp_path: Path, engine: str) -> None:
    """SPEC §20: the event record's and the customer's values as they wrote them, the
    rule's as the rule file did (an alias and a nested customer field included)."""
    config = {"files": {"rules/settings.yaml": "settings:\n  fields:\n    amount: [Amount]\n",
                        "rules/lifecycle.yaml": """
statuses:
  - {id: PROSPECT-Open, stage: prospect, probability: 20}
  - {id: CUSTOMER-Won, stage: customer, probability: 100}
lifecycle:
  defaults: {customer: CUSTOMER-Won}
  transitions:
    - {id: big-bank, on: [invoice.created], to: CUSTOMER-Won,
       when: {customer.industry: [Banking, Insurance], amount: {gte: 1000}}}
"""}}
    if engine == "durable" and not lifecycle_durable.available():
        pytest.skip("durable-rules is not installed")
    cfg, ctx = load(write_config(config, tmp_path), strict=False)
    customer = Customer("P", "PROSPECT-Open", fields={"Industry": " Retail "})
    with Lifecycle(cfg, ctx, engine=engine) as lc:
        result = lc.fire("invoice.created", {"Amount": "50"}, customer, [], explain=True)
    assert result.trace is not None
    (step,) = result.trace
    assert step["why"] == [
        {"field": "customer.industry", "op": "in", "expected": ["Banking", "Insurance"],
         "actual": "Retail"},
        {"field": "amount", "op": "gte", "expected": 1000, "actual": "50"},
    ]
