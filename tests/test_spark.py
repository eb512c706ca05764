"""sfa_rules.spark.decide on a local Spark session (SPEC §21): every decision equals the
sequential engine's over the same rows in order, on generated organisations with away
dates, capacities and every distribution, and on the shipped configuration."""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path
from typing import Any

import pytest
from conftest import CASES, REPO
from spark_inputs import leads, write_config

from sfa_rules.engine.core import load
from sfa_rules.errors import ConfigError

pytest.importorskip("pyspark")
from sfa_rules.spark import decide  # noqa: E402

_spec = importlib.util.spec_from_file_location("gen_leads", CASES / "cli" / "gen_leads.py")
assert _spec is not None and _spec.loader is not None
gen_leads = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gen_leads)

COLUMNS = ["source", "row", "type", "id", "owner", "territory", "assigned_by", "status",
           "stage", "probability", "previous_status", "transition", "event", "warnings",
           "error", "customer", "customer_status", "forecast", "account", "merged_from"]


def frame(spark: Any, records: list[dict[str, Any]], partitions: int = 3) -> Any:
    """The records as a DataFrame of text columns, in contiguous partitions (so the
    input order is the list's)."""
    from pyspark.sql import types as T

    columns = sorted({k for r in records for k in r})
    schema = T.StructType([T.StructField(c, T.StringType()) for c in columns])
    rows = [tuple(r.get(c) for c in columns) for r in records]
    return spark.createDataFrame(spark.sparkContext.parallelize(rows, partitions), schema)


def compare(spark: Any, config: Path, records: list[dict[str, Any]], **options: Any) -> None:
    """Spark's decisions equal the sequential engine's over the DataFrame's own rows."""
    df = frame(spark, records)
    given = [row.asDict() for row in df.collect()]  # what decide sees, None for blanks
    with load(config) as engine, engine.session(as_of=options.get("as_of")) as session:
        if options.get("type"):
            given = [r if r.get("type") else {**r, "type": options["type"]} for r in given]
        expected = [_normal(d.to_dict()) for d in session.process(given)]
    out = decide(df, config, **options)
    assert out.columns == COLUMNS
    got = [_normal(row.asDict(recursive=True)) for row in out.collect()]
    assert len(got) == len(expected) == len(records)
    for want, have in zip(expected, got):
        assert have == want, f"row {want['row']}"


def _normal(d: dict[str, Any]) -> dict[str, Any]:
    full = {c: d.get(c) for c in COLUMNS}
    full["warnings"] = list(full["warnings"] or [])
    if full["probability"] is not None:
        full["probability"] = float(full["probability"])
    return full


# One seed in the fast lane; the others, and the tests below, with the slow ones (CI).
@pytest.mark.parametrize("seed", [1] + [pytest.param(s, marks=pytest.mark.slow) for s in (2, 3, 4)])
def test_generated_organisations_decide_as_the_sequential_engine(
    spark: Any, tmp_path: Path, seed: int
) -> None:
    config = write_config(tmp_path / "config", seed)
    records = leads(300, seed)
    compare(spark, config, records, as_of="2026-06-30")


@pytest.mark.slow
def test_the_shipped_configuration_on_generated_leads(spark: Any, tmp_path: Path) -> None:
    path = tmp_path / "leads.csv"
    gen_leads.generate(str(path), 400, seed=3)
    with open(path, encoding="utf-8", newline="") as f:
        records = [dict(r, type="lead") for r in csv.DictReader(f)]
    for as_of in ("2026-03-01", "2026-12-24"):  # john.smith away on the second
        compare(spark, REPO, records, as_of=as_of)


@pytest.mark.slow
def test_other_record_types_are_decided_in_one_ordered_pass(spark: Any, tmp_path: Path) -> None:
    records: list[dict[str, Any]] = leads(60, 9)
    records += [{"type": "opportunity", "id": f"O-{i}", "customer": f"L-{i}",
                 "status": "Proposal", "amount": "", "expected_close": ""}
                for i in range(0, 60, 3)]
    records += [{"type": "invoice", "id": "I-1", "customer": "L-nobody"}]
    compare(spark, REPO, records, as_of="2026-03-01")


@pytest.mark.parametrize(("customer", "lead"), [
    ({"company": "Globex", "email": "a@globex.example"}, {"email": "b@globex.example"}),
    # a website's domain and an e-mail's find each other, either way round
    ({"website": "https://www.globex.example/"}, {"email": "b@globex.example"}),
    ({"email": "a@globex.example"}, {"website": "globex.example"}),
], ids=["email-email", "website-email", "email-website"])
def test_account_matching_columns_are_the_sequential_engines(
    spark: Any, customer: dict[str, str], lead: dict[str, str]
) -> None:
    """A lead matched to a known customer carries `account`; a duplicate merged into a
    known lead, `merged_from`: the columns are there, with the sequential values."""
    records = [
        {"type": "customer", "id": "C-1", **customer, "owner": "emily.chen", "country": "US",
         "state": "NY"},
        {"type": "lead", "id": "L-1", **lead, "country": "US", "state": "CA"},  # another territory
        {"type": "lead", "id": "L-2", "company": "Initech", "email": "x@initech.example"},
        {"type": "lead", "id": "L-3", "company": "Initech", "email": "x@initech.example"},
    ]
    compare(spark, REPO, records, as_of="2026-03-01")
    got = decide(frame(spark, records), REPO, as_of="2026-03-01").collect()
    assert got[1]["account"] == "C-1"


@pytest.mark.slow
def test_type_fills_rows_without_one(spark: Any) -> None:
    records = [{k: v for k, v in r.items() if k != "type"} for r in leads(20, 5)]
    compare(spark, REPO, records, type="lead", as_of="2026-03-01")


def test_a_loaded_engine_stands_for_its_folder(spark: Any) -> None:
    records = leads(12, 4)
    with load(REPO) as engine:
        by_engine = decide(frame(spark, records), engine, as_of="2026-03-01").collect()
    assert by_engine == decide(frame(spark, records), REPO, as_of="2026-03-01").collect()
    assert len(by_engine) == 12


def test_an_invalid_configuration_fails_before_any_job(spark: Any, tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "bad.yaml").write_text("assignment: [\n", encoding="utf-8")
    with pytest.raises(ConfigError):
        decide(spark.createDataFrame([{"type": "lead", "id": "L-1"}]), tmp_path)
