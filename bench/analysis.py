"""Bench: the static checks (SPEC §15) on large generated territory sets.

Run by hand: ``python bench/analysis.py [--sizes 1000,3000,10000] [--seed 7]
[--dense | --mixed]``. Target: 10,000 territories checked in under 10 s. Prints, per
size, the time to parse the criteria, the time of ``analysis.check`` (wall and CPU) and
its CPU cost per territory side by side, so that near-linear growth (no pairwise
blow-up) shows in one run.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from sfa_rules.analysis import static as analysis
from sfa_rules.config.models import Config
from sfa_rules.criteria.ir import CriteriaContext

sys.path.insert(0, str(Path(__file__).resolve().parent))
from config import territory  # the loader bench's shapes: one definition


class Positions:
    """A stand-in source map (positions do not matter here)."""

    def at(self, path: tuple[Any, ...]) -> tuple[str, int, int]:
        return ("bench.yaml", 1, 1)


def generate(count: int, seed: int) -> Config:
    """A seeded sales organisation of ``count`` territories, about 100 per country:
    zip-prefix territories inside states (priority 5), disjoint state groups (10) with
    industry children (10, tried before their parents), size bands (20), a regex
    territory now and then (30), a country-wide catch-all (50); plus planted problems:
    about 1% repeated later (shadowed), 1% overlapping a state group (ambiguous), and
    a domain value (S98) no territory covers."""
    rng = random.Random(seed)
    states = [f"S{k:02d}" for k in range(40)]
    territories: list[dict[str, Any]] = []

    def add(priority: int, when: dict[str, Any], **more: Any) -> None:
        i = len(territories)
        territories.append({"id": f"t{i}", "priority": priority, "when": when,
                            "members": [{"rep": f"rep{i % 50}"}], **more})

    country = 0
    while len(territories) < count:
        c = f"C{country:03d}"
        country += 1
        shuffled = rng.sample(states, len(states))
        groups: list[list[str]] = []
        while shuffled:
            size = rng.randint(1, 3)
            groups.append(shuffled[:size])
            shuffled = shuffled[size:]
        for group in groups:
            add(10, {"country": c, "state": group})
            parent = territories[-1]["id"]
            if rng.random() < 0.25:
                add(10, {"industry": rng.choice(["Banking", "Retail", "Energy"])}, parent=parent)
        for zip3 in rng.sample(range(1000), 50):
            add(5, {"country": c, "state": rng.choice(states), "zip": {"prefix": f"{zip3:03d}"}})
        for low, high in ((0, 99), (100, 999), (1000, 10**9)):
            add(20, {"country": c, "employees": {"between": [low, high]}})
        if rng.random() < 0.5:
            add(30, {"country": c, "email": {"regex": "@example\\."}})
        add(50, {"country": c})
        for _ in range(rng.randint(0, 2)):  # planted: a state group repeated later
            add(40, {"country": c, "state": rng.choice(groups)})
        for _ in range(rng.randint(0, 2)):  # planted: a state group overlapping another
            add(10, {"country": c, "state": [rng.choice(states), "S99"]})
    territories = territories[:count]
    territories.append({"id": "pool", "default": True, "members": [{"rep": "rep0"}]})
    reps = [{"id": f"rep{i}"} for i in range(50)]
    domains = {"country": [f"C{i:03d}" for i in range(country + 1)], "state": [*states, "S98"]}
    return Config.model_validate(
        {"settings": {"domains": domains}, "reps": reps, "territories": territories}
    )


def generate_dense(count: int, seed: int) -> Config:
    """A stress case, not an organisation: about 200 territories per country over 40
    states at one priority, most overlapping (most pairs ambiguous or shadowed), so the
    pairwise work is as large as the output."""
    rng = random.Random(seed)
    countries = [f"C{i:02d}" for i in range(max(5, count // 200))]
    territories: list[dict[str, Any]] = []
    for i in range(count):
        country = rng.choice(countries)
        roll = rng.random()
        t: dict[str, Any] = {"id": f"t{i}", "members": [{"rep": f"rep{i % 50}"}]}
        if roll < 0.55:
            t.update(priority=10, when={"country": country,
                                        "state": rng.sample([f"S{k}" for k in range(40)], rng.randint(1, 3))})
        elif roll < 0.85:
            t.update(priority=5, when={"country": country, "zip": {"prefix": f"{rng.randrange(10000):04d}"}})
        elif roll < 0.92:
            t.update(priority=20, when={"country": country, "employees": {"gte": rng.choice([100, 500, 1000])}})
        elif roll < 0.99:
            t.update(priority=50, when={"country": country})
        else:
            t.update(priority=30, when={"country": country, "email": {"regex": "@example\\."}})
        territories.append(t)
    reps = [{"id": f"rep{i}"} for i in range(50)]
    return Config.model_validate({"reps": reps, "territories": territories})


def generate_mixed(count: int, seed: int) -> Config:
    """The shapes of ``bench/config.py`` (the loader's bench) at random priorities: a
    country with a zip prefix, with a state list, an industry and a named rule, with a
    zip range (numbers against text: not analysed), with an employee band; a country or
    a state, lead source not Partner; a country with a regex. Most territories end up
    covered by the wide ones before them, so this is the subtraction's worst case."""
    rng = random.Random(seed)
    reps = [f"rep{i}" for i in range(50)]
    territories = [territory(i, rng, reps) for i in range(count)]
    rules = [{"id": "enterprise", "when": {"employees": {"gte": 1000}}}]
    return Config.model_validate({"reps": [{"id": r} for r in reps], "sales_rules": rules,
                                  "territories": territories})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1000,3000,10000")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--dense", action="store_true", help="the overlapping stress case")
    parser.add_argument("--mixed", action="store_true", help="bench/config.py's shapes")
    args = parser.parse_args()
    make = generate_dense if args.dense else generate_mixed if args.mixed else generate
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"{'territories':>11} {'parse s':>8} {'check s':>8} {'cpu s':>6} {'us/territory':>13}"
          "  warnings")
    base = None
    for size in sizes:
        config = make(size, args.seed)
        start = time.perf_counter()
        ctx = CriteriaContext(config, Positions())
        parsed, cpu = time.perf_counter(), time.process_time()
        problems = analysis.check(config, Positions(), ctx)
        done, cpu = time.perf_counter(), time.process_time() - cpu
        per = cpu / size * 1e6  # CPU time: the machine may be shared
        base = base or per
        counts = Counter(p.code for p in problems)
        print(f"{size:>11} {parsed - start:>8.2f} {done - parsed:>8.2f} {cpu:>6.2f} {per:>9.0f} "
              f"(x{per / base:.2f})  {dict(sorted(counts.items()))}")


if __name__ == "__main__":
    main()
