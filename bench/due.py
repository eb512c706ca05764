"""Bench: `sfa due` over a state of 1,000,000 customers (issue 16: it must answer in
seconds), on both lifecycle evaluators, with the shipped follow-ups.

    python bench/due.py --customers 1000000 --rounds 2 [--mix uniform|typical]

Builds a SQLite state once (through the store's API: the setup is not measured) with
customers of random shapes: leads, prospects and customers of the shipped statuses
(``--mix uniform``: every status alike; ``typical``: mostly customers and closed ones),
owners and territories of the shipped plan, assigned 0-90 days before the as-of date,
half with activities (of random kinds, each a line of their history, so that the
first-touch rule's kinds are checked against the history), a few with none. Then
runs ``sfa due --state ... --as-of ... --format jsonl`` as a child process per
evaluator and reports its wall and CPU seconds (best of ``--rounds``) and what it
listed; finally ``sfa follow-up --dry-run`` once with the native evaluator.
"""

from __future__ import annotations

import argparse
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from sfa_rules.engine.core import load
from sfa_rules.entities import Customer, HistoryEntry
from sfa_rules.state import SQLiteStore

AS_OF = date(2026, 6, 1)
KINDS = ("call", "email", "meeting", "task", "note")


def build(path: Path, count: int, mix: str) -> None:
    """A state of ``count`` random customers (committed every 50,000): of every status
    alike (``uniform``: about a third in a status some shipped follow-up names), or
    ``typical`` (80% customers or closed, the rest leads and proposals)."""
    engine = load(None, lifecycle_engine="native")
    statuses = [s.id for s in engine.config.statuses]
    if mix == "typical":
        settled = [s.id for s in engine.config.statuses if s.stage == "customer" or s.closed]
        statuses = settled * 8 + ["LEAD-New", "LEAD-Qualified", "PROSPECT-Proposal"] * 2
    territories = [(t.id, [m.rep for m in t.members]) for t in engine.config.territories
                   if t.members]
    rnd = random.Random(18)
    store = SQLiteStore(path, dry_run=False)
    for n in range(count):
        tid, members = rnd.choice(territories)
        assigned = AS_OF - timedelta(days=rnd.randrange(0, 90))
        last, activities = None, {}
        if rnd.random() < 0.5:
            for _ in range(rnd.randrange(1, 4)):
                day = assigned + timedelta(days=rnd.randrange(0, 30))
                kind = rnd.choice(KINDS)
                activities[kind] = activities.get(kind, 0) + 1
                last = max(last or day.isoformat(), day.isoformat())
                store.add_history(HistoryEntry(f"B-{n:07d}", day.isoformat(), "activity",
                                               {"kind": kind}, "bench"))
        status = rnd.choice(statuses)
        store.put_customer(Customer(
            f"B-{n:07d}", status, rnd.choice(members), tid, False, {},
            assigned.isoformat(), (assigned + timedelta(days=rnd.randrange(0, 5))).isoformat(),
            last, activities, rnd.randrange(0, 3)))
        if n % 50_000 == 49_999:
            store.commit()
    store.commit()
    store.close()


def timed(args: list[str]) -> tuple[float, float, str, str]:
    """Wall and CPU seconds of ``sfa ARGS`` as a child, its stdout and stderr."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "sfa_rules", *args], capture_output=True,
                          text=True, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.stdout, done.stderr.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--mix", choices=["uniform", "typical"], default="uniform")
    parser.add_argument("--state", type=Path, default=None,
                        help="Reuse (or build once into) this state file.")
    opts = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="sfa-due-"))
    state = opts.state or folder / "state.db"
    if not state.exists():
        start = time.perf_counter()
        build(state, opts.customers, opts.mix)
        print(f"built {opts.customers:,} customers in {time.perf_counter() - start:.0f} s "
              f"({state.stat().st_size / 2**20:.0f} MiB)")
    common = ["--state", str(state), "--as-of", AS_OF.isoformat(), "--format", "jsonl"]
    for engine in ("native", "durable"):
        best: tuple[float, float, str, str] | None = None
        for _ in range(opts.rounds):
            try:
                run = timed(["due", *common, "--lifecycle-engine", engine])
            except subprocess.CalledProcessError as e:
                print(f"sfa due ({engine}): failed: {e.stderr.strip()[-200:]}")
                break
            best = run if best is None or run[0] < best[0] else best
        if best is not None:
            print(f"sfa due ({engine}): {best[0]:.1f} s wall, {best[1]:.1f} s CPU; "
                  f"{best[3]}")
    wall, cpu, out, last = timed(["follow-up", *common, "--dry-run", "--lifecycle-engine",
                                  "native"])
    print(f"sfa follow-up --dry-run (native): {wall:.1f} s wall, {cpu:.1f} s CPU; "
          f"{out.count(chr(10)):,} actions")


if __name__ == "__main__":
    main()
