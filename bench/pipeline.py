"""Bench: `sfa dry-run` end to end on generated leads (targets: >= 100,000 rows/s,
peak memory < 150 MiB whatever the input size).

    python bench/pipeline.py [--rows 1000000] [--territories 10000] [--seed 7]

Writes a seeded CSV of lead rows, then runs the real command in a subprocess, CSV in,
JSON Lines out (to a file), once with the shipped configuration and once with a
generated configuration of ``--territories`` territories (bench/config.py's
generator), and prints rows/s and the child's peak resident memory side by side; then
the shipped configuration on a tenth of the rows, to show that memory does not grow
with the input. A bare loop (read each row, write one JSON line, decide nothing) gives
the floor any CPython pipeline shares, for scale. Last, the same command on a plan of
``--mixed`` territories of random shapes (bench/public.py's) over ``--mixed-rows`` of its
records, each row's territory checked against a plain first-match scan.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from config import COUNTRIES, INDUSTRIES, STATES, write_config
from public import plain, plan, records, write_plan

from sfa_rules.engine.core import load

REPO = Path(__file__).resolve().parent.parent
HEADER = ["id", "company", "country", "state", "zip", "employees", "industry",
          "lead_source", "created"]


def write_leads(path: Path, rows: int, seed: int) -> None:
    """Distinct lead rows with realistic, mixed fields."""
    rng = random.Random(seed)
    countries = COUNTRIES + ["US"] * 6  # mostly US, as in the shipped sample
    with path.open("w", newline="", encoding="utf-8") as stream:
        out = csv.writer(stream)
        out.writerow(HEADER)
        for i in range(rows):
            out.writerow([
                f"L-{i:07d}", f"Company {i}", rng.choice(countries), rng.choice(STATES),
                f"{rng.randrange(100000):05d}", rng.randrange(1, 20000),
                rng.choice(INDUSTRIES), rng.choice(["Web", "Partner", "Event", ""]),
                f"2026-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}",
            ])


def bare_loop(leads: Path, out: Path) -> float:
    """Rows/s of the least any CPython pipeline does per row, deciding nothing: the
    CSV row read into a dict, one JSON line with its row number and id written."""
    start = time.perf_counter()
    rows = 0
    with leads.open(newline="", encoding="utf-8") as src, out.open("w", encoding="utf-8") as dst:
        reader = csv.reader(src)
        header = next(reader)
        write, dumps = dst.write, json.dumps
        for rows, cells in enumerate(reader, 1):
            record = dict(zip(header, cells))
            write(f'{{"source":"leads.csv","row":{rows},"id":{dumps(record["id"])}}}\n')
    return rows / (time.perf_counter() - start)


def run(label: str, args: list[str], rows: int) -> tuple[float, float]:
    """Run `sfa` in a fresh interpreter; rows/s and peak RSS in MiB of that child."""
    start = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-m", "sfa_rules", *args],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert child.stderr is not None
    errors = child.stderr.read()
    _, status, usage = os.wait4(child.pid, 0)  # this child's own peak, not the largest yet
    child.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    peak = usage.ru_maxrss / 1024
    if child.returncode not in (0, 1):
        sys.exit(f"{label}: sfa exited {child.returncode}\n{errors}")
    print(f"{label:<34}{wall:8.1f} s {rows / wall:>12,.0f} rows/s {peak:8.0f} MiB")
    return rows / wall, peak


def mixed(folder: Path, n: int, rows: int) -> None:
    """`sfa dry-run` on bench/public.py's plan of ``n`` territories of random shapes
    and its records, every row's territory checked against the plain first-match scan
    (only ``rows`` of them: the scan takes about a millisecond a row at 10,000)."""
    items, full = plan(n)
    config = folder / "mixed"
    write_plan(config, items)
    engine = load(config, lifecycle_engine="native")
    position = {t["id"]: i for i, t in enumerate(items)}
    order = [position[t.id] for t in engine.index.order]
    engine.close()
    sample = records(full, rows)
    leads = folder / "mixed-leads" / "leads.csv"
    leads.parent.mkdir()
    with leads.open("w", newline="", encoding="utf-8") as stream:
        out = csv.DictWriter(stream, fieldnames=list(sample[0]))
        out.writeheader()
        out.writerows(sample)
    decided = folder / "mixed.jsonl"
    run(f"{n:,} mixed territories, {rows:,} rows",
        ["dry-run", str(leads), "--format", "jsonl", "--out", str(decided), "--as-of",
         "2026-06-01", "--config", str(config)], rows)
    with decided.open(encoding="utf-8") as lines:
        got = [json.loads(line).get("territory") for line in lines]
    _, scanned, _ = plain(full, order, sample)
    same = sum(a == b for a, b in zip(got, scanned)) if len(got) == len(scanned) else 0
    print(f"  every row's territory as the plain scan's: {same:,} of {rows:,} agree")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--territories", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--mixed", type=int, default=10_000,
                        help="territories of bench/public.py's random shapes (0: skip)")
    parser.add_argument("--mixed-rows", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        leads = folder / "leads.csv"
        write_leads(leads, args.rows, args.seed)
        big = folder / "config"
        write_config(big, args.territories, args.seed)
        out = str(folder / "out.jsonl")
        print(f"{args.rows:,} lead rows ({leads.stat().st_size / 1e6:.0f} MB CSV), "
              f"JSON Lines out; seed {args.seed}")
        common = ["dry-run", str(leads), "--format", "jsonl", "--out", out, "--as-of", "2026-06-01"]
        shipped, peak = run("shipped configuration", [*common, "--config", str(REPO)], args.rows)
        large, _ = run(f"{args.territories:,} territories", [*common, "--config", str(big)],
                       args.rows)
        print(f"ratio {args.territories:,} territories / shipped: {large / shipped:.2f}")
        bare = bare_loop(leads, Path(out))
        print(f"{'bare loop (no decision, in process)':<34}{args.rows / bare:8.1f} s "
              f"{bare:>12,.0f} rows/s")
        print(f"ratio shipped / bare loop: {shipped / bare:.2f} (of the 100,000 rows/s target's "
              f"10 us a row, the bare loop takes {1e6 / bare:.1f} us)")
        # Memory must not grow with the input: the same run on a tenth of the rows.
        tenth = folder / "tenth" / "leads.csv"  # the type comes from the file's name
        tenth.parent.mkdir()
        write_leads(tenth, args.rows // 10, args.seed)
        common[1] = str(tenth)
        _, small_peak = run(f"shipped, {args.rows // 10:,} rows", [*common, "--config", str(REPO)],
                            args.rows // 10)
        print(f"peak memory, {args.rows:,} rows / {args.rows // 10:,} rows: "
              f"{peak / small_peak:.2f}")
        if args.mixed:
            mixed(folder, args.mixed, args.mixed_rows)


if __name__ == "__main__":
    main()
