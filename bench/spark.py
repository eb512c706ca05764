"""sfa_rules.spark.decide on local Spark against the sequential engine (SPEC §21).

    python bench/spark.py [ROWS] [PARTITIONS ...]      # default: 1,000,000 rows; 2 4 8

Generates ROWS leads (tests/cases/cli/gen_leads.py: every territory of the shipped
configuration, away dates, the capacity-limited rep, overrides, kept owners, repeated
ids, rows in error), decides them once with the sequential engine (timed) and then on
a local Spark session with 2 cores for each number of input partitions (timed: reading
the CSV, deciding, streaming the decisions back in row order), and compares every
decision with the sequential one. Prints one line per run; exits 1 on any difference.
"""

from __future__ import annotations

import csv
import importlib.util
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
AS_OF = "2026-12-24"  # john.smith is away: eligibility changes with the record's date

_spec = importlib.util.spec_from_file_location(
    "gen_leads", REPO / "tests" / "cases" / "cli" / "gen_leads.py"
)
assert _spec is not None and _spec.loader is not None
gen_leads = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gen_leads)


def _normal(d: dict[str, Any]) -> dict[str, Any]:
    d = {k: d.get(k) for k in ("row", "type", "id", "owner", "territory", "assigned_by",
                               "status", "stage", "probability", "warnings", "error")}
    d["warnings"] = list(d["warnings"] or [])
    if d["probability"] is not None:
        d["probability"] = float(d["probability"])
    return d


def sequential(path: str) -> tuple[list[dict[str, Any]], float]:
    from sfa_rules.engine.core import load

    began = time.perf_counter()
    with open(path, encoding="utf-8", newline="") as f, load(REPO) as engine, \
            engine.session(as_of=AS_OF) as session:
        rows = (dict(r, type="lead") for r in csv.DictReader(f))
        out = [_normal(d.to_dict()) for d in session.process(rows)]
    return out, time.perf_counter() - began


def distributed(
    spark: Any, path: str, partitions: int, expected: list[dict[str, Any]]
) -> tuple[float, int, int]:
    from sfa_rules.spark import decide

    size = os.path.getsize(path)
    spark.conf.set("spark.sql.files.maxPartitionBytes", str(size // partitions + 1))
    spark.conf.set("spark.sql.files.openCostInBytes", "0")
    began = time.perf_counter()
    # every column text, empty fields kept as "" (as the sequential run's csv reader)
    df = spark.read.option("header", True).option("nullValue", "\x00").csv(path)
    partitions = df.rdd.getNumPartitions()  # Spark splits by size: at least one per core
    differences = 0
    count = 0
    for got, want in zip(decide(df, REPO, type="lead", as_of=AS_OF).toLocalIterator(), expected):
        count += 1
        if _normal(got.asDict(recursive=True)) != want:
            differences += 1
            if differences <= 3:
                print("  differs:", want, got, file=sys.stderr)
    assert count == len(expected), (count, len(expected))
    return time.perf_counter() - began, differences, partitions


def main() -> int:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    counts = [int(p) for p in sys.argv[2:]] or [2, 4, 8]
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    spark = (SparkSession.builder.master("local[2]").appName("sfa-bench")
             .config("spark.sql.shuffle.partitions", "8")
             .config("spark.driver.memory", "2g")
             .config("spark.ui.enabled", "false")
             .config("spark.ui.showConsoleProgress", "false").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "leads.csv")
        gen_leads.generate(path, rows, seed=20261203)
        expected, seconds = sequential(path)
        print(f"sequential engine: {rows:,} leads in {seconds:.1f} s "
              f"({rows / seconds:,.0f} rows/s)", flush=True)
        failed = False
        for partitions in counts:
            seconds, differences, partitions = distributed(spark, path, partitions, expected)
            failed |= differences > 0
            print(f"spark local[2], {partitions} partitions: {seconds:.1f} s "
                  f"({rows / seconds:,.0f} rows/s), {differences} decisions differ", flush=True)
    spark.stop()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
