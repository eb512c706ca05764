"""Issue 15's acceptance: the CRM export, unchanged, with examples/crm as configuration.

The export (the public "CRM + Sales + Opportunities" sample) lives beside the
repository in ``../shared/data/crm-opportunities``; these tests are skipped where it is
absent. Every expected figure is computed here from the CSV files themselves, not
taken from the engine: won deals grouped by their agent's manager (sales_teams.csv)
and by the quarter of their ``dd-mm-yy`` close date.
"""

from __future__ import annotations

import csv
import json
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from sfa_rules.cli.main import main

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / ".." / "shared" / "data" / "crm-opportunities"
CONFIG = REPO / "examples" / "crm"
ACCOUNTS = DATA / "accounts.csv"
PIPELINE = DATA / "sales_pipeline.csv"
TEAMS = DATA / "sales_teams.csv"

pytestmark = pytest.mark.skipif(not PIPELINE.is_file(), reason=f"no CRM export at {DATA}")


def sfa(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, [*args, "--config", str(CONFIG)])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as stream:
        return list(csv.DictReader(stream))


def quarter(dd_mm_yy: str) -> str:
    day, month, year = (int(part) for part in dd_mm_yy.split("-"))
    assert 1 <= day <= 31
    return f"20{year:02d}-Q{(month - 1) // 3 + 1}"


def won_by(key: str) -> dict[tuple[str, str], Decimal]:
    """Won value per (the agent's `manager` or `regional_office`, close quarter)."""
    of_agent = {row["sales_agent"]: row[key] for row in rows(TEAMS)}
    out: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for deal in rows(PIPELINE):
        if deal["deal_stage"] == "Won":
            out[(of_agent[deal["sales_agent"]], quarter(deal["close_date"]))] += Decimal(
                deal["close_value"])
    return dict(out)


def rep_names() -> dict[str, str]:
    """The configuration's rep id -> name (the names the export writes)."""
    data = yaml.safe_load((CONFIG / "territories" / "reps.yaml").read_text(encoding="utf-8"))
    return {rep["id"]: rep["name"] for rep in data["reps"]}


def forecast(by: str) -> tuple[list[dict[str, Any]], str]:
    code, out, err = sfa("forecast", str(ACCOUNTS), str(PIPELINE), "--by", by,
                         "--period", "quarter", "--format", "json")
    assert code == 0, err
    return json.loads(out), err


def test_the_export_is_the_one_described() -> None:
    teams = rows(TEAMS)
    assert len(teams) == 35 and len({t["manager"] for t in teams}) == 6
    assert len(rows(ACCOUNTS)) + len(rows(PIPELINE)) == 8_885


def test_the_configuration_validates_clean() -> None:
    code, out, err = sfa("validate")
    assert (code, out) == (0, "")
    assert err.startswith("0 errors, 0 warnings")


def test_won_value_by_manager_and_quarter_equals_the_export() -> None:
    report, _ = forecast("manager")
    names = rep_names()
    got = {(names[r["group"]], r["period"]): Decimal(str(r["closed"]))
           for r in report[:-1] if r["period"].startswith("2017") and r["closed"]}
    expected = {key: value for key, value in won_by("manager").items()
                if key[1].startswith("2017")}
    assert len(expected) == 6 * 4
    assert got == expected
    total = report[-1]
    assert (total["group"], total["period"]) == (None, None)
    assert total["closed"] == 10_005_534
    assert sum(expected.values()) == 10_005_534
    # every opportunity once in the totals: won, plus open ones (lost ones count nowhere)
    stages = Counter(deal["deal_stage"] for deal in rows(PIPELINE))
    assert total["count"] == stages["Won"] + stages["Prospecting"] + stages["Engaging"]


def test_won_value_by_team_and_quarter_equals_the_export() -> None:
    report, _ = forecast("team")
    got = {(r["group"], r["period"]): Decimal(str(r["closed"]))
           for r in report[:-1] if r["period"].startswith("2017")}
    assert got == won_by("regional_office")
    assert report[-1]["closed"] == 10_005_534


def test_the_forecast_reads_every_date_and_tells_warnings_per_code() -> None:
    _, err = forecast("manager")
    assert "error" not in err.split("\n", 1)[0].replace("0 errors", "")
    assert "  no-customer: 1,425 warnings" in err
    assert len(err.splitlines()) < 20


def test_dry_run_decides_every_row_and_exits_0() -> None:
    code, out, err = sfa("dry-run", str(ACCOUNTS), str(PIPELINE), "--format", "jsonl")
    assert code == 0, err[-2000:]
    decisions = [json.loads(line) for line in out.splitlines()]
    assert len(decisions) == 8_885
    assert not [d for d in decisions if d["error"] is not None]
    assert Counter(d["type"] for d in decisions) == {"customer": 85, "opportunity": 8_800}
    won = [d for d in decisions if d["type"] == "opportunity" and d["status"] == "Closed Won"]
    assert len(won) == 4_238
    assert {d["customer"] for d in decisions if d["type"] == "opportunity"} - {None} <= {
        d["id"] for d in decisions if d["type"] == "customer"}
