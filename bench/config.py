"""Bench: load and validate a synthetic configuration of 10,000 territories (target < 5 s).

    python bench/config.py [--territories 10000] [--seed 7]

Writes a seeded configuration folder (territories in files of 1,000, their reps, a few
sales rules, the shipped lifecycle) to a temporary directory and times each stage of
``sfa validate`` side by side (best of ``--repeat`` runs, wall clock and CPU): YAML
reading + merging (``load_config``), the semantic checks, the criteria compiler, the
analysis of overlaps and gaps, and the whole ``validate``.
"""

from __future__ import annotations

import argparse
import random
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from sfa_rules.analysis import static as analysis
from sfa_rules.api import validate_config as validate
from sfa_rules.config import checks
from sfa_rules.config.loader import load_config
from sfa_rules.criteria import ir as criteria

REPO = Path(__file__).resolve().parent.parent
COUNTRIES = ["US", "CA", "MX", "BR", "AR", "CO", "PE", "CL", "DE", "FR", "ES", "IT", "GB"]
STATES = ["CA", "OR", "WA", "NY", "NJ", "MA", "TX", "FL", "IL", "GA", "AZ", "CO"]
INDUSTRIES = ["Banking", "Insurance", "Retail", "Software", "Health", "Energy"]


def territory(i: int, rng: random.Random, reps: list[str]) -> dict[str, Any]:
    """One territory with one of several criteria shapes."""
    when: dict[str, Any]
    shape = i % 6
    country = COUNTRIES[i % len(COUNTRIES)]
    if shape == 0:
        when = {"country": country, "zip": {"prefix": [f"{i % 1000:03d}"]}}
    elif shape == 1:
        when = {"country": country, "state": rng.sample(STATES, 3), "industry": INDUSTRIES[i % 6]}
    elif shape == 2:
        low = rng.randrange(0, 90000)
        when = {"country": country, "zip": {"between": [low, low + 999]}}
    elif shape == 3:
        low = rng.randrange(1, 5000)
        when = {"country": country, "employees": {"gte": low, "lt": low * 2}}
    elif shape == 4:
        when = {"any": [{"country": country}, {"state": STATES[i % len(STATES)]}],
                "lead_source": {"ne": "Partner"}}
    else:
        when = {"country": country, "company": {"regex": f"^acme{i}"}}
    members = [{"rep": rep} for rep in rng.sample(reps, 2)]
    item: dict[str, Any] = {
        "id": f"t{i:05d}", "priority": rng.randrange(1, 500), "when": when,
        "members": members,
        "distribution": rng.choice(["round_robin", "weighted", "least_loaded"]),
    }
    if shape == 1:
        item["rules"] = ["enterprise"]
    return item


def write_config(folder: Path, count: int, seed: int) -> None:
    """The synthetic configuration: shipped rules/ plus generated territories/."""
    rng = random.Random(seed)
    shutil.copytree(REPO / "rules", folder / "rules")
    (folder / "rules" / "assignment.yaml").unlink()  # refers to the shipped reps
    (folder / "territories").mkdir()
    reps = [f"rep{i:04d}" for i in range(max(4, count // 5))]
    rep_items = [{"id": r, "email": f"{r}@example.com"} for r in reps]
    (folder / "territories" / "reps.yaml").write_text(yaml.safe_dump({"reps": rep_items}))
    rules = [{"id": "enterprise", "when": {"employees": {"gte": 1000}}}]
    (folder / "rules" / "sales-rules.yaml").write_text(yaml.safe_dump({"sales_rules": rules}))
    items = [territory(i, rng, reps) for i in range(count)]
    items.append({"id": "pool", "default": True, "members": [{"rep": reps[0]}]})
    for start in range(0, len(items), 1000):
        chunk = {"territories": items[start:start + 1000]}
        name = folder / "territories" / f"t{start // 1000:02d}.yaml"
        name.write_text(yaml.safe_dump(chunk, sort_keys=False))


def timed(label: str, fn: Any, repeat: int = 1) -> Any:
    """Run ``fn`` ``repeat`` times; print the best wall-clock and CPU seconds."""
    walls, cpus = [], []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        value = fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    print(f"{label:<28}{min(walls):8.2f} s wall {min(cpus):8.2f} s cpu")
    return value


def _without_analysis(folder: Path) -> None:
    config, sm, _ = load_config(folder)
    checks.run(config, sm)
    criteria.CriteriaContext(config, sm)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--territories", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3, help="best of N runs per stage")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_config(folder, args.territories, args.seed)
        size = sum(p.stat().st_size for p in folder.rglob("*.yaml"))
        print(f"{args.territories} territories, {size / 1e6:.1f} MB of YAML (seed {args.seed})")
        n = args.repeat
        config, sm, problems = timed("load_config (read+merge)", lambda: load_config(folder), n)
        timed("checks", lambda: checks.run(config, sm), n)
        ctx = timed("criteria", lambda: criteria.CriteriaContext(config, sm), n)
        timed("load + checks + criteria", lambda: _without_analysis(folder), n)
        found = timed("analysis (SPEC §15)", lambda: analysis.check(config, sm, ctx), 1)
        _, _, everything = timed("validate (all of it)", lambda: validate(folder), 1)
        errors = [p for p in everything if p.severity == "error"]
        print(f"{len(config.territories)} territories loaded, {len(problems)} load problems, "
              f"{len(errors)} errors, {len(found)} analysis findings")


if __name__ == "__main__":
    main()
