"""Bench: `sfa apply` of ~200,000 mixed rows with a SQLite state, one code tree against
another, in one run (issue 16: the customers' history may not slow apply by more than
25%).

    python bench/history.py --base /work/main --rows 200000 --rounds 3

Writes leads (60%), opportunities (20%), estimates (8%), sales orders (4%), status
changes (4%) and, where the tree knows them, activities (4%; the base gets that many
more leads instead, so both runs decide the same number of rows) into a temporary
folder; then, alternating the two trees, runs ``python -m sfa_rules apply`` on a new
state in each and reports the child's CPU seconds (user + system) and wall seconds,
best of ``--rounds``. Each child imports its own tree's ``sfa_rules`` (the editable
install's import hook removed).
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
STATES = {"US": ["CA", "OR", "WA", "NY", "MA", "TX", "CO", "FL"], "CA": ["ON", "QC", "BC"],
          "MX": ["CDMX"], "BR": ["SP"], "DE": [""]}
OPP = ["Identified Opportunity", "In Discussion", "Proposal", "In Negotiation", "Closed Won",
       "Closed Lost"]
LAUNCH = (
    "import sys; sys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in"
    " type(f).__module__.lower() and 'editable' not in repr(f).lower()];"
    " sys.path.insert(0, sys.argv.pop(1)); import runpy; sys.argv[0] = 'sfa';"
    " runpy.run_module('sfa_rules', run_name='__main__')"
)


def _write(path: Path, header: list[str], rows: list[list[object]]) -> None:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def make_inputs(folder: Path, total: int, activities: bool) -> list[str]:
    rnd = random.Random(16)
    n_act = total * 4 // 100
    n_leads = total * 60 // 100 + (0 if activities else n_act)
    leads = []
    for i in range(n_leads):
        country = rnd.choice(list(STATES))
        leads.append([f"L-{i}", f"Company {i}", country, rnd.choice(STATES[country]),
                      f"{rnd.randint(1000, 99999):05d}", rnd.randint(1, 5000), "Retail", "Web",
                      f"2026-0{rnd.randint(1, 9)}-1{rnd.randint(0, 9)}"])
    _write(folder / "leads.csv", ["id", "company", "country", "state", "zip", "employees",
                                  "industry", "lead_source", "created"], leads)
    ids = [row[0] for row in leads]
    opps = [[f"O-{i}", rnd.choice(ids), rnd.choice(OPP), rnd.randint(1000, 90000), "2026-12-31"]
            for i in range(total * 20 // 100)]
    _write(folder / "opportunities.csv", ["id", "customer", "status", "amount", "expected_close"], opps)
    _write(folder / "estimates.csv", ["id", "customer", "amount"],
           [[f"E-{i}", rnd.choice(ids), 500] for i in range(total * 8 // 100)])
    _write(folder / "sales_orders.csv", ["id", "customer", "amount"],
           [[f"S-{i}", rnd.choice(ids), 900] for i in range(total * 4 // 100)])
    _write(folder / "status_changes.csv", ["customer", "status"],
           [[rnd.choice(ids), "LEAD-Qualified"] for _ in range(total * 4 // 100)])
    files = ["leads.csv", "opportunities.csv", "estimates.csv", "sales_orders.csv",
             "status_changes.csv"]
    if activities:
        kinds = ["call", "meeting", "email", "task", "note"]
        _write(folder / "activities.csv", ["customer", "kind", "date", "subject"],
               [[rnd.choice(ids), rnd.choice(kinds), f"2026-10-{rnd.randint(10, 28)}", "s"]
                for _ in range(n_act)])
        files.append("activities.csv")
    return [str(folder / f) for f in files]


def run(tree: Path, files: list[str], state: Path) -> tuple[float, float]:
    """CPU and wall seconds of one `sfa apply` of ``files`` by ``tree``'s code."""
    state.unlink(missing_ok=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", LAUNCH, str(tree), "apply", *files, "--state", str(state),
         "--as-of", "2026-11-01", "--config", str(tree), "--format", "jsonl"],
        check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tree,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", type=Path, required=True, help="the tree to compare with")
    parser.add_argument("--tree", type=Path, default=HERE)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "base").mkdir()
        (folder / "tree").mkdir()
        inputs = {"base": make_inputs(folder / "base", args.rows, activities=False),
                  "tree": make_inputs(folder / "tree", args.rows, activities=True)}
        best: dict[str, tuple[float, float]] = {}
        for _ in range(args.rounds):
            for name, tree in (("base", args.base), ("tree", args.tree)):
                cpu, wall = run(tree, inputs[name], folder / f"{name}.db")
                old = best.get(name)
                best[name] = (min(cpu, old[0]), min(wall, old[1])) if old else (cpu, wall)
                print(f"{name}: cpu {cpu:.2f} s, wall {wall:.2f} s", flush=True)
        (bc, bw), (tc, tw) = best["base"], best["tree"]
        print(f"best of {args.rounds}: base cpu {bc:.2f} s wall {bw:.2f} s; "
              f"tree cpu {tc:.2f} s wall {tw:.2f} s; cpu {100 * (tc / bc - 1):+.1f}%, "
              f"wall {100 * (tw / bw - 1):+.1f}%")
        print(f"state sizes: base {os.path.getsize(folder / 'base.db'):,} B, "
              f"tree {os.path.getsize(folder / 'tree.db'):,} B")


if __name__ == "__main__":
    main()
