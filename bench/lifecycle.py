"""Lifecycle transitions: events/second on both evaluators and raw durable-rules.

Run by hand: ``python bench/lifecycle.py [--events 100000] [--customers 10000]``.

One seeded stream of events (every event type of SPEC §6, with amounts) over seeded
customers (statuses of all three stages, a few opportunities each) is played through
``Lifecycle.fire`` on the native evaluator and on durable-rules, the customers' statuses
updated as the engine would. For comparison, durable-rules' raw post rate: the shipped
transitions written by hand as a durable-rules ruleset (the opportunity counts as
plain message fields, a post and an action per event, nothing else). Targets: native
>= 200,000 events/s; the durable wrapper within 10x of raw durable-rules.
"""

from __future__ import annotations

import argparse
import random
import time
import uuid
from pathlib import Path
from typing import Any

from sfa_rules.config.loader import load_config
from sfa_rules.config.models import EVENTS
from sfa_rules.criteria.ir import CriteriaContext
from sfa_rules.entities import Customer, Opportunity
from sfa_rules.lifecycle import durable as lifecycle_durable
from sfa_rules.lifecycle.statuses import Lifecycle

ROOT = Path(__file__).resolve().parent.parent  # the shipped rules/ and territories/
OPEN = ["Identified Opportunity", "In Discussion", "Proposal", "In Negotiation", "Purchasing"]


def stream(seed: int, n_events: int, n_customers: int, config: Any) -> tuple[Any, list[Any]]:
    """Seeded customers (with opportunities) and events ``(event, record, customer id)``."""
    rng = random.Random(seed)
    statuses = [s.id for s in config.statuses]
    customers: dict[str, Customer] = {}
    opportunities: dict[str, list[Opportunity]] = {}
    for i in range(n_customers):
        cid = f"C{i}"
        customers[cid] = Customer(cid, rng.choice(statuses), fields={"industry": "Retail"})
        opportunities[cid] = [
            Opportunity(
                f"O{i}-{j}", cid, rng.choice([*OPEN, "Closed Won", "Closed Lost"]),
                rng.choice([10, 20, 50, 75, 90]), seq=j,
            )
            for j in range(rng.randrange(4))
        ]
    events = [
        (rng.choice(EVENTS), {"id": f"T{k}", "amount": str(rng.randrange(0, 5000))},
         f"C{rng.randrange(n_customers)}")
        for k in range(n_events)
    ]
    return (customers, opportunities), events


def run_lifecycle(lc: Lifecycle, world: Any, events: list[Any]) -> tuple[float, int]:
    customers, opportunities = dict(world[0]), world[1]
    changed = 0
    start = time.perf_counter()
    for event, record, cid in events:
        customer = customers[cid]
        result = lc.fire(event, record, customer, opportunities[cid])
        if result.transition is not None:
            customers[cid] = customer._replace(status=result.status)
            changed += 1
    return time.perf_counter() - start, changed


def run_raw_durable(world: Any, events: list[Any], config: Any) -> tuple[float, int]:
    """The shipped transitions as a hand-written durable-rules ruleset: post rate."""
    from durable import engine, lang

    class QuietHost(engine.Host):  # type: ignore[misc]
        def _run(self) -> None:  # no polling timers, as in lifecycle_durable
            pass

    m, pri, when_all = lang.m, lang.pri, lang.when_all
    name = f"bench-raw-{uuid.uuid4().hex}"
    fired: list[str] = []
    rs = lang.ruleset(name)
    with rs:
        @when_all(pri(1), (m.event == "opportunity.created") & (m.stage == "lead"))
        def opportunity_makes_prospect(c: Any) -> None:
            fired.append("PROSPECT-Identified Opportunity")

        @when_all(pri(2), (m.event == "estimate.created") & (m.stage == "lead"))
        def estimate_makes_prospect(c: Any) -> None:
            fired.append("PROSPECT-Proposal")

        @when_all(pri(3), ((m.event == "sales_order.created") | (m.event == "invoice.created")
                           | (m.event == "cash_sale.created"))
                  & ((m.stage == "lead") | (m.stage == "prospect")))
        def sale_makes_customer(c: Any) -> None:
            fired.append("CUSTOMER-Closed Won")

        @when_all(pri(4), (m.event == "opportunity.won") & ((m.stage == "lead") | (m.stage == "prospect")))
        def won_makes_customer(c: Any) -> None:
            fired.append("CUSTOMER-Closed Won")

        @when_all(pri(5), (m.event == "opportunity.lost") & (m.stage == "prospect")
                  & (m.open <= 0) & (m.won <= 0))
        def all_lost(c: Any) -> None:
            fired.append("PROSPECT-Closed Lost")

        @when_all(pri(6), ((m.event == "opportunity.created") | (m.event == "opportunity.updated")
                           | (m.event == "estimate.created"))
                  & (m.stage == "prospect") & (m.open >= 1))
        def follows(c: Any) -> None:
            fired.append(c.m.follow)

        @when_all(pri(7), (m.event == "opportunity.lost") & (m.stage == "prospect") & (m.open >= 1))
        def follows_remaining(c: Any) -> None:
            fired.append(c.m.follow)

        @when_all(pri(8), (m.event == "estimate.created") & (m.status == "PROSPECT-Closed Lost"))
        def reopens(c: Any) -> None:
            fired.append("PROSPECT-Proposal")
    lang._rulesets.pop(name, None)
    full, definition = rs.define()
    host = QuietHost()
    host.register_rulesets({full: definition})
    stage_of = {s.id: s.stage for s in config.statuses}
    customers, opportunities = dict(world[0]), world[1]
    counts = {
        cid: (sum(o.status in OPEN for o in opps), sum(o.status == "Closed Won" for o in opps))
        for cid, opps in opportunities.items()
    }
    # Statuses change as in run_lifecycle, so the same rules fire; only the posts are
    # timed (building the messages is not durable-rules' cost).
    elapsed = 0.0
    clock = time.perf_counter
    for event, _record, cid in events:
        status = customers[cid].status
        n_open, n_won = counts[cid]
        message = {"sid": "0", "event": event, "status": status, "stage": stage_of[status],
                   "open": n_open, "won": n_won, "follow": "PROSPECT-Proposal"}
        before = len(fired)
        start = clock()
        try:
            host.post(name, message)
        except engine.MessageNotHandledException:
            pass
        elapsed += clock() - start
        if len(fired) > before and fired[-1] != status:
            customers[cid] = customers[cid]._replace(status=fired[-1])
    import durable_rules_engine

    durable_rules_engine.delete_ruleset(host.get_ruleset(name)._handle)
    return elapsed, len(fired)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeat", type=int, default=3, help="best of this many runs")
    args = parser.parse_args()
    config, sourcemap, problems = load_config(ROOT)
    assert not [p for p in problems if p.severity == "error"], problems
    ctx = CriteriaContext(config, sourcemap)
    world, events = stream(args.seed, args.events, args.customers, config)
    print(f"{len(events):,} events over {args.customers:,} customers (seed {args.seed})")
    rates: dict[str, float] = {}
    engines = ["native", "durable"] if lifecycle_durable.available() else ["native"]
    lifecycles = {e: Lifecycle(config, ctx, e) for e in engines}  # type: ignore[arg-type]
    for lc in lifecycles.values():
        run_lifecycle(lc, world, events[:2000])  # warm up
    # Best of --repeat, interleaved: the machine's load moves the absolute figures; the
    # ratios, measured side by side, are the ones to compare.
    changed: dict[str, int] = {}
    fired = 0
    for _ in range(args.repeat):
        for engine, lc in lifecycles.items():
            elapsed, changed[engine] = run_lifecycle(lc, world, events)
            rates[engine] = max(rates.get(engine, 0.0), len(events) / elapsed)
        if lifecycle_durable.available():
            elapsed, fired = run_raw_durable(world, events, config)
            rates["raw durable"] = max(rates.get("raw durable", 0.0), len(events) / elapsed)
    for engine, lc in lifecycles.items():
        lc.close()
        print(f"  {engine:<14} {rates[engine]:>12,.0f} events/s   ({changed[engine]:,} status changes)")
    if lifecycle_durable.available():
        print(f"  {'raw durable':<14} {rates['raw durable']:>12,.0f} events/s   ({fired:,} rules fired)")
        print(f"  native / durable wrapper:      {rates['native'] / rates['durable']:.1f}x")
        ratio = rates["raw durable"] / rates["durable"]
        print(f"  raw durable / durable wrapper: {ratio:.1f}x  (target <= 10x)")
    verdict = "met" if rates["native"] >= 200_000 else "NOT met"
    print(f"  native target >= 200,000 events/s: {verdict}")


if __name__ == "__main__":
    main()
