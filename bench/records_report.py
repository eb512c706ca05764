"""Bench: records in and decisions out, rows per second (target: 100,000 rows/s each way).

    python bench/records_report.py [--rows 200000] [--seed 7]

Writes seeded synthetic leads as CSV, JSON Lines and (with pyarrow) Parquet to a
temporary directory, then times (best of three), side by side in one run:

- reading each file through ``records.read`` against the bare parser under it
  (``csv.reader``, ``json.loads`` per line, ``iter_batches().to_pylist()``);
- writing SPEC §8 decisions through each writer to an atomic file, and the JSON
  encoders a JSON Lines writer could use (``json.dumps`` with options, the prebuilt
  ``JSONEncoder`` the writer uses, and orjson where it is installed), as ratios to the
  writer's cost.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sfa_rules.engine.decision import Decision
from sfa_rules.records.readers import read
from sfa_rules.report.writers import make_writer, open_output

COUNTRIES = ["US", "CA", "MX", "CO", "PE"]
STATES = ["CA", "OR", "WA", "NY", "TX", ""]
SOURCES = ["Web", "Partner", "Trade Show", "Referral"]
COLUMNS = ["id", "company", "country", "state", "zip", "employees", "lead_source", "notes"]


def lead(i: int, rng: random.Random) -> dict[str, str]:
    """One synthetic lead as an export would write it."""
    return {
        "id": f"L-{i}",
        "company": f"Company {rng.randrange(10**6)} Ltd., Inc.",
        "country": rng.choice(COUNTRIES),
        "state": rng.choice(STATES),
        "zip": f"{rng.randrange(100000):05d}",
        "employees": str(rng.randrange(1, 20000)),
        "lead_source": rng.choice(SOURCES),
        "notes": "called twice\nno answer" if rng.random() < 0.05 else "",
    }


def decision(i: int, rng: random.Random) -> dict[str, Any]:
    """One SPEC §8 decision, mostly plain, some with warnings or an error."""
    error = None
    if rng.random() < 0.02:
        error = {"code": "missing-field", "message": "the row has no 'id'", "field": "id"}
    return Decision(
        "leads.csv",
        i + 1,
        "lead",
        f"L-{i}",
        owner=f"rep.{rng.randrange(50)}",
        territory=f"t-{rng.randrange(20)}",
        assigned_by="territory:us-west",
        status="LEAD-New",
        stage="lead",
        probability=0,
        warnings=("employees: 'many' is not a number",) if rng.random() < 0.05 else (),
        error=error,
    ).to_dict()


def write_inputs(folder: Path, rows: int, seed: int) -> dict[str, Path]:
    rng = random.Random(seed)
    records = [lead(i, rng) for i in range(rows)]
    paths = {"csv": folder / "leads.csv", "jsonl": folder / "leads.jsonl"}
    with paths["csv"].open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        writer.writerows([r[c] for c in COLUMNS] for r in records)
    with paths["jsonl"].open("w", encoding="utf-8") as out:
        out.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    try:
        import pyarrow as pa  # type: ignore[import-untyped]
        import pyarrow.parquet as pq  # type: ignore[import-untyped]
    except ImportError:
        return paths
    paths["parquet"] = folder / "leads.parquet"
    pq.write_table(pa.Table.from_pylist(records), paths["parquet"])
    return paths


def timed(fn: Callable[[], object], repeat: int = 3) -> float:
    """The best of ``repeat`` runs: the machine is shared, the minimum is the signal."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def bare_reader(fmt: str, path: Path) -> Callable[[], object]:
    """The parser under ``records.read``, with nothing of ours around it."""
    if fmt == "csv":

        def run() -> object:
            with path.open(encoding="utf-8", newline="") as fh:
                return sum(1 for _ in csv.reader(fh))

    elif fmt == "jsonl":

        def run() -> object:
            with path.open("rb") as fh:
                return sum(1 for line in fh if json.loads(line))

    else:

        def run() -> object:
            import pyarrow.parquet as pq

            with pq.ParquetFile(path) as pf:
                return sum(len(b.to_pylist()) for b in pf.iter_batches(batch_size=2048))

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rows: int = args.rows

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        paths = write_inputs(folder, rows, args.seed)
        print(f"{rows:,} rows, seed {args.seed}\n\nreading     rows/s    bare parser  ours/bare")
        for fmt, path in paths.items():
            ours = timed(lambda p=path: sum(1 for _ in read([p])))
            bare = timed(bare_reader(fmt, path))
            print(f"{fmt:8} {rows / ours:>9,.0f}  {rows / bare:>11,.0f}  {ours / bare:>9.2f}x")

        rng = random.Random(args.seed)
        decisions = [decision(i, rng) for i in range(rows)]
        print("\nwriting     rows/s  (to an atomic file in the temporary directory)")
        costs: dict[str, float] = {}
        for fmt in ("jsonl", "csv", "table"):

            def write(fmt: str = fmt) -> None:
                with open_output(folder / f"out.{fmt}") as stream:
                    writer = make_writer(fmt, stream)
                    for d in decisions:
                        writer.write(d)
                    writer.finish()

            costs[fmt] = timed(write)
            print(f"{fmt:8} {rows / costs[fmt]:>9,.0f}")

        print("\nJSON encoding alone   rows/s  share of the jsonl writer's time")
        encoders: dict[str, Callable[[dict[str, Any]], object]] = {
            "json.dumps(options)": lambda d: json.dumps(
                d, ensure_ascii=False, separators=(",", ":")
            ),
            "prebuilt JSONEncoder": json.JSONEncoder(
                ensure_ascii=False, separators=(",", ":")
            ).encode,
        }
        try:
            import orjson

            encoders["orjson (not used)"] = orjson.dumps
        except ImportError:
            pass
        for name, encode in encoders.items():
            cost = timed(lambda e=encode: all(e(d) for d in decisions))
            print(f"{name:20} {rows / cost:>9,.0f}  {cost / costs['jsonl']:>6.0%}")


if __name__ == "__main__":
    main()
