"""``sfa report`` (SPEC §20): the page's content, without a browser.

The browser tests (tests/test_report_browser.py) open the same pages in Chromium.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sfa_rules.cli import main

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = [str(REPO / "examples" / name) for name in
            ("leads.csv", "opportunities.csv", "estimates.csv", "sales_orders.csv")]
CHARTS = ("chart-territories", "chart-owners", "chart-loads", "chart-funnel",
          "chart-forecast-period", "chart-forecast-owner")


def report(tmp_path: Path, *args: str, name: str = "report.html") -> tuple[Any, str]:
    """Run ``sfa report ARGS --out tmp/NAME``: the result and the page's text."""
    out = tmp_path / name
    result = CliRunner().invoke(main, ["report", *args, "--out", str(out)])
    return result, out.read_text(encoding="utf-8") if out.exists() else ""


def table_rows(page: str, table: str) -> list[list[Any]]:
    match = re.search(rf'<script type="application/json" data-table="{table}">(.*?)</script>',
                      page, re.DOTALL)
    assert match, f"no data for {table}"
    rows: list[list[Any]] = json.loads(match.group(1))
    return rows


def chart(page: str, chart_id: str) -> dict[str, Any]:
    match = re.search(rf'<script type="application/json" data-chart="{chart_id}">(.*?)</script>',
                      page, re.DOTALL)
    assert match, f"no chart {chart_id}"
    figure: dict[str, Any] = json.loads(match.group(1))
    return figure


@pytest.fixture(scope="module")
def examples_page(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, str]:
    return report(tmp_path_factory.mktemp("report"), *EXAMPLES)


def test_the_examples_report_is_written_and_self_contained(examples_page: tuple[Any, str]) -> None:
    result, page = examples_page
    assert result.exit_code == 0, result.output
    assert "report in" in result.stderr and "73 rows" in result.stderr
    assert result.stdout == ""  # the page goes to --out only
    assert page.startswith("<!DOCTYPE html>")
    # nothing from elsewhere: no script, style sheet or image by address; a policy forbids it
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=", page)
    assert "default-src 'none'" in page
    assert "Plotly.newPlot" in page and len(page) > 3_000_000  # plotly.js is inline


@pytest.mark.parametrize("chart_id", CHARTS)
def test_every_chart_has_data(examples_page: tuple[Any, str], chart_id: str) -> None:
    figure = chart(examples_page[1], chart_id)
    assert figure["data"], chart_id
    assert any(trace.get("x") or trace.get("y") for trace in figure["data"])


# What the charts say about the examples (the run summary on stderr says the same).
CHART_FACTS = [
    ("chart-territories", 0, "x", "y", {"us-east": 9, "us-west": 11, "canada": 4}),
    ("chart-owners", 0, "x", "y", {"emily.chen": 10, "carla.diaz": 2}),
    ("chart-funnel", 0, "y", "x", {"LEAD-New (lead)": 24, "CUSTOMER-Closed Won (customer)": 6}),
]


@pytest.mark.parametrize(("chart_id", "trace", "keys", "values", "expected"), CHART_FACTS,
                         ids=[f[0] for f in CHART_FACTS])
def test_charts_count_what_the_run_decided(examples_page: tuple[Any, str], chart_id: str,
                                           trace: int, keys: str, values: str,
                                           expected: dict[str, int]) -> None:
    data = chart(examples_page[1], chart_id)["data"][trace]
    counts = dict(zip(data[keys], data[values]))
    assert {k: counts.get(k) for k in expected} == expected


def test_forecast_stacks_the_four_categories(examples_page: tuple[Any, str]) -> None:
    figure = chart(examples_page[1], "chart-forecast-period")
    assert [t["name"] for t in figure["data"]] == ["Closed (won)", "Commit", "Best case", "Pipeline"]
    assert figure["layout"]["barmode"] == "stack"
    assert "2026-Q2" in figure["data"][0]["x"]


def test_the_table_lists_every_error_and_warning(examples_page: tuple[Any, str]) -> None:
    rows = table_rows(examples_page[1], "flagged-table")
    codes = sorted(r[6] for r in rows)
    assert codes == ["duplicate-of", "no-amount", "no-customer", "no-expected-close", "not-a-number",
                     "skipped-members", "skipped-members"]
    (row,) = [r for r in rows if r[6] == "not-a-number"]
    assert row[:6] == [EXAMPLES[0], 17, "lead", "L-1017", "emily.chen", "warning"]
    # the forecast's own warnings name their opportunity and owner too (the filter finds them)
    assert all(r[3] and r[4] for r in rows if r[6] in ("no-amount", "no-expected-close"))


def test_the_summary_counts_the_forecasts_warnings_too(examples_page: tuple[Any, str]) -> None:
    page = examples_page[1]
    flagged = table_rows(page, "flagged-table")
    warnings = sum(1 for r in flagged if r[5] == "warning")
    assert f"<b>{warnings}</b>warnings" in page
    assert "no-expected-close 1" in page and "no-amount 1" in page


def test_the_forecast_by_manager_shows_each_managers_organisation(tmp_path: Path) -> None:
    config = tmp_path / "config"
    shutil.copytree(REPO / "rules", config / "rules")
    shutil.copytree(REPO / "territories", config / "territories")
    reps = config / "territories" / "reps.yaml"
    text = reps.read_text(encoding="utf-8")
    assert "  - id: emily.chen\n" in text
    reps.write_text(text.replace("  - id: emily.chen\n", "  - id: emily.chen\n    manager: ana.gomez\n"),
                    encoding="utf-8")
    result, page = report(tmp_path, *EXAMPLES, "--config", str(config))
    assert result.exit_code == 0, result.output
    figure = chart(page, "chart-forecast-manager")
    assert set(figure["data"][0]["y"]) == {"ana.gomez", "(none)"}  # others report to nobody
    assert "chart-forecast-manager" not in report(tmp_path, *EXAMPLES, name="plain.html")[1]


def test_a_row_in_error_is_in_the_table_and_exits_1(tmp_path: Path) -> None:
    bad = tmp_path / "opportunities.csv"
    bad.write_text("id,customer,status\nO-1,NOBODY,Proposal\n", encoding="utf-8")
    result, page = report(tmp_path, EXAMPLES[0], str(bad))
    assert result.exit_code == 1  # as sfa dry-run: a row in error
    (row,) = [r for r in table_rows(page, "flagged-table") if r[5] == "error"]
    assert row[6] == "unknown-customer" and row[1] == 1


def test_the_configuration_problems_are_listed(tmp_path: Path) -> None:
    config = tmp_path / "config"
    shutil.copytree(REPO / "rules", config / "rules")
    shutil.copytree(REPO / "territories", config / "territories")
    (config / "territories" / "zz-extra.yaml").write_text(
        "reps: [{id: idle.rep}]\n"
        "territories:\n"
        "  - {id: us-too, priority: 999, when: {country: US}, members: [{rep: ana.gomez}]}\n",
        encoding="utf-8")
    result, page = report(tmp_path, "--config", str(config), EXAMPLES[0])
    assert result.exit_code == 0, result.output
    problems = table_rows(page, "problems-table")
    assert {"shadowed-territory", "idle-rep"} <= {r[2] for r in problems}
    (where,) = [r[0] for r in problems if r[2] == "shadowed-territory"]
    assert re.fullmatch(r".*territories/zz-extra\.yaml:3:\d+", where)


def test_values_cannot_break_out_of_the_page(tmp_path: Path) -> None:
    leads = tmp_path / "leads.csv"
    leads.write_text('id,employees\n"</script><img src=x onerror=alert(1)>",<!--\n',
                     encoding="utf-8")
    result, page = report(tmp_path, str(leads))
    assert result.exit_code == 0, result.output
    assert "<img src=x" not in page and "</script><img" not in page
    (row,) = table_rows(page, "flagged-table")
    assert row[3] == "</script><img src=x onerror=alert(1)>"  # shown as text, as written


@pytest.mark.parametrize(("args", "message"), [
    (["--out"], "requires an argument"),
    (["--period", "week"], "'week' is not one of"),
])
def test_usage_errors_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, ["report", EXAMPLES[0], *args])
    assert result.exit_code == 2 and message in result.output


def test_an_out_that_is_a_folder_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["report", EXAMPLES[0], "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "is a directory" in result.stderr


def test_without_plotly_it_says_what_to_install(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [m for m in sys.modules if m == "plotly" or m.startswith("plotly.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "plotly", None)  # as if it were not installed
    result, page = report(tmp_path, *EXAMPLES)
    assert result.exit_code == 2
    assert "pip install 'sfa-rules[report]'" in result.stderr
    assert page == "" and "Traceback" not in result.output


def test_a_broken_configuration_gives_a_page_of_its_problems(tmp_path: Path) -> None:
    config = tmp_path / "config"
    shutil.copytree(REPO / "rules", config / "rules")
    shutil.copytree(REPO / "territories", config / "territories")
    (config / "territories" / "zz-broken.yaml").write_text(
        "territories:\n  - {id: bad, priority: 5, when: {country: {near: US}}, members: [{rep: ana.gomez}]}\n",
        encoding="utf-8")
    result, page = report(tmp_path, "--config", str(config), EXAMPLES[0])
    assert result.exit_code == 1
    assert "zz-broken.yaml:2:" in result.stderr and "[unknown-operator]" in result.stderr
    (problem,) = [r for r in table_rows(page, "problems-table") if r[1] == "error"]
    assert problem[2] == "unknown-operator" and "zz-broken.yaml:2:" in problem[0]
    assert 'class="chart"' not in page  # nothing was decided: no chart


def test_an_input_without_rows_gives_a_page_without_charts(tmp_path: Path) -> None:
    leads = tmp_path / "leads.csv"
    leads.write_text("id,country\n", encoding="utf-8")
    result, page = report(tmp_path, str(leads))
    assert result.exit_code == 0, result.output
    assert page.count("Nothing to show for this run.") == len(CHARTS) - 1  # loads: the reps
    assert "No row in error and no warning." in page
