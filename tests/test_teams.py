"""Teams, managers and quotas (SPEC §17): the hierarchy, rep names as owners, the
forecast by manager and by team with quota and attainment, through the library and
the CLI on a small organisation written as real files."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import sfa_rules
from sfa_rules import forecast
from sfa_rules.cli.main import main
from sfa_rules.config.models import Quota, Rep
from sfa_rules.config.teams import Hierarchy, parse_period
from sfa_rules.forecast import ForecastItem
from sfa_rules.forecast.quotas import QuotaBook, attainment

REPO = Path(__file__).resolve().parent.parent

# vp (sells: false) <- m1 (sells: false) <- a, b;  vp <- m2 (sells) <- c;  d alone.
REPS = """\
reps:
  - {id: vp, name: Vera Page, sells: false}
  - {id: m1, name: Mia One, manager: vp, team: East, sells: false}
  - {id: m2, name: Max Two, manager: vp, team: West}
  - {id: a, name: Ana Alba, manager: m1, team: East}
  - {id: b, name: Bo Berg, manager: m1, team: East}
  - {id: c, name: Cy Cole, manager: m2, team: West}
  - {id: d, name: Dee Dunn}
"""
TERRITORIES = """\
territories:
  - {id: pool, default: true, members: [{rep: a}, {rep: b}, {rep: c}, {rep: d}, {rep: m2}]}
"""
QUOTAS = """\
quotas:
  - {rep: a, period: 2017-Q1, amount: 1000}
  - {rep: b, period: 2017, amount: 800}
  - {rep: c, period: 2017-01, amount: 100}
  - {rep: c, period: 2017-02, amount: 100}
  - {rep: c, period: 2017-03, amount: 100}
  - {team: East, period: 2017, amount: 4000}
  - {manager: m2, period: 2017-Q1, amount: 999}
  - {rep: vp, period: 2017, amount: 8000}
"""
OPPORTUNITIES = """\
id,customer,owner,status,amount,expected_close
O1,C1,a,Closed Won,100,2017-02-01
O2,C1,Bo Berg,Closed Won,200,2017-05-01
O3,C1,c,Closed Won,300,2017-02-10
O4,C1,m2,Closed Won,400,2017-03-01
O5,C1,d,Closed Won,500,2017-01-01
O6,C1,Zed Unknown,Closed Won,600,2017-01-01
O7,C1, ana  ALBA ,Proposal,1000,2017-02-01
"""


def make_config(root: Path, quotas: bool = True) -> Path:
    """The shipped rules with the organisation above as territories/."""
    (root / "territories").mkdir(parents=True)
    (root / "rules").mkdir()
    for name in ("settings", "lifecycle", "opportunities"):
        (root / "rules" / f"{name}.yaml").write_text(
            (REPO / "rules" / f"{name}.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    (root / "territories" / "reps.yaml").write_text(REPS, encoding="utf-8")
    (root / "territories" / "pool.yaml").write_text(TERRITORIES, encoding="utf-8")
    if quotas:
        (root / "territories" / "quotas.yaml").write_text(QUOTAS, encoding="utf-8")
    return root


@pytest.fixture
def org(tmp_path: Path) -> tuple[Path, Path, Path]:
    """(config, customers.csv, opportunities.csv)."""
    config = make_config(tmp_path / "config")
    customers = tmp_path / "customers.csv"
    customers.write_text("id,country\nC1,US\n", encoding="utf-8")
    opportunities = tmp_path / "opportunities.csv"
    opportunities.write_text(OPPORTUNITIES, encoding="utf-8")
    return config, customers, opportunities


def sfa(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


# -- the hierarchy ---------------------------------------------------------------------


def hierarchy() -> Hierarchy:
    return sfa_rules.load(make_config(Path(__import__("tempfile").mkdtemp()) / "c")).hierarchy


@pytest.mark.parametrize(("written", "rep"), [
    ("a", "a"),
    ("Ana Alba", "a"),
    (" ana  ALBA ", "a"),
    ("AnaAlba", "a"),
    ("A", "a"),                  # an id, ignoring case
    ("Vera Page", "vp"),
    ("Zed Unknown", "Zed Unknown"),  # not a rep: kept as written
    ("", ""),
])
def test_rep_names_resolve_to_ids(written: str, rep: str) -> None:
    assert hierarchy().owner(written) == rep


def test_a_name_two_reps_share_names_neither() -> None:
    reps = [Rep(id="x", name="Sam Lee"), Rep(id="y", name="sam lee"), Rep(id="z")]
    assert Hierarchy(reps).owner("Sam Lee") == "Sam Lee"
    assert Hierarchy(reps).owner("sam lee") == "sam lee"


@pytest.mark.parametrize(("rep", "managers", "organisation"), [
    ("a", ("m1", "vp"), ()),
    ("m1", ("vp",), ("a", "b")),
    ("m2", ("vp",), ("c",)),
    ("vp", (), ("m1", "m2", "a", "b", "c")),
    ("d", (), ()),
    ("nobody", (), ()),
])
def test_managers_and_organisation(rep: str, managers: tuple[str, ...],
                                   organisation: tuple[str, ...]) -> None:
    h = hierarchy()
    assert h.managers(rep) == managers
    assert set(h.organisation(rep)) == set(organisation)


def test_a_loop_never_spins() -> None:
    reps = [Rep(id="x", manager="y"), Rep(id="y", manager="x"), Rep(id="s", manager="s")]
    h = Hierarchy(reps)
    assert h.managers("x") == ("y",)
    assert h.managers("s") == ()
    assert set(h.organisation("x")) == {"y"}


@pytest.mark.parametrize(("text", "parts"), [
    ("2017", (2017, 0, 0)), ("2017-Q1", (2017, 1, 0)), ("2017-q4", (2017, 4, 0)),
    ("2017-01", (2017, 1, 1)), ("2017-12", (2017, 4, 12)), (" 2017-05 ", (2017, 2, 5)),
    ("2017-Q5", None), ("2017-13", None), ("2017-00", None), ("17", None), ("Q1 2017", None),
    ("2017-1", None), ("2017-", None), ("unscheduled", None), ("２０１７", None),
])
def test_periods(text: str, parts: tuple[int, int, int] | None) -> None:
    assert parse_period(text) == parts


# -- rep names in owner fields ---------------------------------------------------------


def test_owner_names_resolve_in_decisions(org: tuple[Path, Path, Path]) -> None:
    config, _, _ = org
    engine = sfa_rules.load(config)
    lead = engine.decide({"type": "lead", "id": "L1", "owner": "Bo Berg"})
    assert (lead.owner, lead.assigned_by) == ("b", "kept")
    other = engine.decide({"type": "lead", "id": "L2", "owner": "Zed Unknown"})
    assert (other.owner, other.assigned_by) == ("Zed Unknown", "kept")
    with engine.session() as session:
        decisions = list(session.process([
            {"type": "customer", "id": "C1"},
            {"type": "opportunity", "id": "O1", "customer": "C1", "owner": "cy cole",
             "status": "Proposal", "amount": "10", "expected_close": "2017-01-01"},
        ]))
        report, _ = session.forecast([], by="owner")
    assert decisions[1].error is None
    assert [row.group for row in report.rows[:-1]] == ["c"]


# -- the forecast by manager and by team ----------------------------------------------

# (group, period, count, amount, closed, pipeline, quota, attainment)
BY_MANAGER = [
    ("m1", "2017-Q1", 2, "1100", "100", "600", "1200", "8.3"),
    ("m1", "2017-Q2", 1, "200", "200", "200", "200", "100.0"),
    ("m2", "2017-Q1", 1, "300", "300", "300", "999", "30.0"),
    ("vp", "2017-Q1", 4, "1800", "800", "1300", "2000", "40.0"),
    ("vp", "2017-Q2", 1, "200", "200", "200", "2000", "10.0"),
    ("(none)", "2017-Q1", 2, "1100", "1100", "1100", None, None),
    (None, None, 7, "3100", "2100", "2600", None, None),
]
BY_TEAM = [
    ("East", "2017-Q1", 2, "1100", "100", "600", "1000", "10.0"),
    ("East", "2017-Q2", 1, "200", "200", "200", "1000", "20.0"),
    ("West", "2017-Q1", 2, "700", "700", "700", None, None),
    ("(none)", "2017-Q1", 2, "1100", "1100", "1100", None, None),
    (None, None, 7, "3100", "2100", "2600", None, None),
]
BY_OWNER = [
    ("a", "2017-Q1", 2, "1100", "100", "600", "1000", "10.0"),
    ("b", "2017-Q2", 1, "200", "200", "200", "200", "100.0"),
    ("c", "2017-Q1", 1, "300", "300", "300", "300", "100.0"),
    ("d", "2017-Q1", 1, "500", "500", "500", None, None),
    ("m2", "2017-Q1", 1, "400", "400", "400", None, None),
    ("Zed Unknown", "2017-Q1", 1, "600", "600", "600", None, None),
    (None, None, 7, "3100", "2100", "2600", None, None),
]


def as_rows(report: forecast.ForecastReport) -> list[tuple[Any, ...]]:
    def text(value: Decimal | None) -> str | None:
        if value is None:
            return None
        return str(int(value)) if value == value.to_integral_value() else str(value)

    return [(r.group, r.period, r.count, text(r.amount), text(r.closed), text(r.pipeline),
             text(r.quota), None if r.attainment is None else str(r.attainment))
            for r in report.rows]


@pytest.mark.parametrize(("by", "expected"), [
    ("manager", BY_MANAGER), ("team", BY_TEAM), ("owner", BY_OWNER),
])
def test_engine_forecast_by(org: tuple[Path, Path, Path], by: str,
                            expected: list[tuple[Any, ...]]) -> None:
    config, customers, opportunities = org
    engine = sfa_rules.load(config)
    rows = sfa_rules.records.read([str(customers), str(opportunities)])
    report = engine.forecast(rows, by=by, period="quarter")
    assert as_rows(report) == expected
    assert report.quotas and not report.errors


def test_quota_periods_by_month_and_year(org: tuple[Path, Path, Path]) -> None:
    config, customers, opportunities = org
    engine = sfa_rules.load(config)

    def quotas(by: str, period: str) -> dict[tuple[str | None, str | None], tuple[Any, ...]]:
        rows = sfa_rules.records.read([str(customers), str(opportunities)])
        report = engine.forecast(rows, by=by, period=period)
        return {(r.group, r.period): (None if r.quota is None else forecast.rounded(r.quota),
                                      r.attainment) for r in report.rows}

    by_month = quotas("owner", "month")
    assert by_month[("b", "2017-05")] == (Decimal("66.67"), Decimal("300.0"))  # a year / 12
    assert by_month[("a", "2017-02")] == (Decimal("333.33"), Decimal("30.0"))  # a quarter / 3
    assert by_month[("c", "2017-02")] == (Decimal("100.00"), Decimal("300.0"))  # its own
    by_year = quotas("owner", "year")
    assert by_year[("b", "2017")] == (Decimal("800.00"), Decimal("25.0"))
    assert by_year[("a", "2017")] == (None, None)  # one quarter is not a year
    assert by_year[("c", "2017")] == (None, None)  # three months are not a year
    assert quotas("manager", "year")[("vp", "2017")] == (Decimal("8000.00"), Decimal("12.5"))


Q = Quota.model_validate


@pytest.mark.parametrize(("quotas", "by", "group", "period", "expected"), [
    ([{"rep": "a", "period": "2017", "amount": 400}], "owner", "a", "2017-Q3", "100"),
    ([{"rep": "a", "period": "2017", "amount": 1200}], "owner", "a", "2017-07", "100"),
    ([{"rep": "a", "period": "2017-Q3", "amount": 300}], "owner", "a", "2017-08", "100"),
    ([{"rep": "a", "period": "2017-Q3", "amount": 300},
      {"rep": "a", "period": "2017", "amount": 4000}], "owner", "a", "2017-Q3", "300"),
    ([{"rep": "a", "period": f"2017-Q{q}", "amount": 10} for q in range(1, 5)],
     "owner", "a", "2017", "40"),
    ([{"rep": "a", "period": f"2017-{m:02d}", "amount": 1} for m in range(1, 13)],
     "owner", "a", "2017", "12"),
    ([{"rep": "a", "period": "2017-Q1", "amount": 10}], "owner", "a", "2018-Q1", None),
    ([{"rep": "a", "period": "2017", "amount": 10}], "owner", "a", "unscheduled", None),
    ([{"rep": "a", "period": "2017", "amount": 10}], "territory", "a", "2017", None),
    ([{"team": "East", "period": "2017", "amount": 10}], "team", "East", "2017", "10"),
    ([{"team": "East", "period": "2017", "amount": 10}], "owner", "East", "2017", None),
    # a manager: their own, else the sum of the selling reps' of their organisation
    ([{"manager": "m1", "period": "2017", "amount": 5}], "manager", "m1", "2017", "5"),
    ([{"rep": "a", "period": "2017", "amount": 5}, {"rep": "b", "period": "2017", "amount": 7},
      {"rep": "c", "period": "2017", "amount": 100}], "manager", "m1", "2017", "12"),
    ([{"rep": "a", "period": "2017", "amount": 5}, {"rep": "c", "period": "2017", "amount": 1},
      {"rep": "m2", "period": "2017", "amount": 1000}], "manager", "vp", "2017", "1006"),
    ([{"rep": "m2", "period": "2017", "amount": 1000}], "manager", "m2", "2017", None),
    ([{"rep": "m1", "period": "2017", "amount": 9}], "manager", "m1", "2017", "9"),
    ([], "manager", "m1", "2017", None),
])
def test_quota_book(quotas: list[dict[str, Any]], by: str, group: str, period: str,
                    expected: str | None) -> None:
    book = QuotaBook([Q(q) for q in quotas], hierarchy())
    found = book.quota(by, group, period)
    assert (None if found is None else found.normalize()) == (
        None if expected is None else Decimal(expected).normalize())


@pytest.mark.parametrize(("closed", "quota", "expected"), [
    ("100", "1200", "8.3"), ("1", "8", "12.5"), ("1", "16", "6.3"), ("0", "10", "0.0"),
    ("30", "20", "150.0"), ("5", "0", None), ("5", None, None), ("-5", "8", "-62.5"),
])
def test_attainment_rounds_half_up_to_one_decimal(closed: str, quota: str | None,
                                                  expected: str | None) -> None:
    found = attainment(Decimal(closed), None if quota is None else Decimal(quota))
    assert (None if found is None else str(found)) == expected


# -- every format ----------------------------------------------------------------------


def test_cli_forecast_by_manager_in_every_format(org: tuple[Path, Path, Path]) -> None:
    config, customers, opportunities = org
    args = ("forecast", str(customers), str(opportunities), "--config", str(config),
            "--by", "manager")
    code, out, err = sfa(*args, "--format", "json")
    assert code == 0, err
    rows = json.loads(out)
    assert list(rows[0]) == [*forecast.COLUMNS, "quota", "attainment"]
    assert rows[0] | {} == {"group": "m1", "period": "2017-Q1", "count": 2, "amount": 1100,
                            "weighted_amount": 600, "closed": 100, "commit": 100,
                            "best_case": 600, "pipeline": 600, "quota": 1200,
                            "attainment": 8.3}
    assert (rows[-1]["quota"], rows[-1]["attainment"]) == (None, None)
    assert rows[-1]["count"] == 7
    code, out, _ = sfa(*args, "--format", "csv")
    table = list(csv.DictReader(io.StringIO(out)))
    assert (table[0]["quota"], table[0]["attainment"]) == ("1200.00", "8.3")
    assert (table[5]["group"], table[5]["quota"], table[5]["attainment"]) == ("(none)", "", "")
    code, out, _ = sfa(*args, "--format", "table")
    header, _, first, *_ = out.splitlines()
    assert header.split() == ["manager", "period", "count", "amount", "weighted", "closed",
                              "commit", "best_case", "pipeline", "quota", "attainment"]
    assert first.split()[-2:] == ["1,200.00", "8.3%"]
    assert "(none)" in out and out.splitlines()[-1].split()[-2:] == ["-", "-"]


def test_without_quotas_the_columns_are_spec_7s(tmp_path: Path,
                                                org: tuple[Path, Path, Path]) -> None:
    _, customers, opportunities = org
    config = make_config(tmp_path / "plain", quotas=False)
    code, out, err = sfa("forecast", str(customers), str(opportunities), "--config",
                         str(config), "--by", "team", "--format", "json")
    assert code == 0, err
    rows = json.loads(out)
    assert all(list(row) == list(forecast.COLUMNS) for row in rows)
    assert [(r["group"], r["period"]) for r in rows] == [
        ("East", "2017-Q1"), ("East", "2017-Q2"), ("West", "2017-Q1"), ("(none)", "2017-Q1"),
        (None, None)]


# -- invariants --------------------------------------------------------------------------

OWNERS = ["a", "b", "c", "d", "m1", "m2", "vp", "Ana Alba", "Zed", None]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(OWNERS), st.integers(0, 10_000),
                          st.sampled_from(["Closed Won", "Proposal", "Closed Lost"])),
                max_size=30))
def test_manager_rows_cover_their_organisation_and_totals_count_once(
    deals: list[tuple[str | None, int, str]],
) -> None:
    h = hierarchy()
    ladder = {"Closed Won": (100, "closed", "won"), "Proposal": (50, "best_case", None),
              "Closed Lost": (0, "omitted", "lost")}
    items = [ForecastItem("f.csv", n, f"O{n}", owner, None, status, ladder[status][1],  # type: ignore[arg-type]
                          ladder[status][2], ladder[status][0], str(amount), "2017-02-01")  # type: ignore[arg-type]
             for n, (owner, amount, status) in enumerate(deals, 1)]
    counted = [i for i in items if i.outcome != "lost"]
    report = forecast.build(items, by="manager", hierarchy=h)
    *rows, total = report.rows
    assert total.count == len(counted)
    assert total.amount == sum((Decimal(i.amount or 0) for i in counted), Decimal(0))
    for row in rows:
        if row.group == "(none)":
            members = [i for i in counted if not h.managers(h.owner(i.owner or ""))]
        else:
            org = set(h.organisation(row.group or ""))
            members = [i for i in counted if i.owner is not None and h.owner(i.owner) in org]
        assert row.count == len(members)
        assert row.amount == sum((Decimal(i.amount or 0) for i in members), Decimal(0))


# -- what the README promises ------------------------------------------------------------


def test_readme_explains_every_forecast_column() -> None:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## The forecast"):text.index("## Worked example")]
    for column in (*forecast.COLUMNS[2:], *forecast.QUOTA_COLUMNS):
        assert f"| `{column}`" in section, column


def test_readme_example_of_reps_and_quotas_validates(tmp_path: Path) -> None:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text[text.index("### By manager and by team"):]
    example = section[section.index("```yaml\n") + 8:section.index("```\n", 8)]
    reps, quotas = example.split("quotas:")
    config = tmp_path / "c"
    (config / "territories").mkdir(parents=True)
    (config / "territories" / "reps.yaml").write_text(reps, encoding="utf-8")
    (config / "territories" / "quotas.yaml").write_text("quotas:" + quotas, encoding="utf-8")
    (config / "territories" / "t.yaml").write_text(
        "territories:\n  - {id: all, default: true, members: [{rep: moses.frase}]}\n",
        encoding="utf-8")
    code, _, err = sfa("validate", "--config", str(config))
    assert code == 0 and "0 errors, 0 warnings" in err


def test_a_long_management_chain_validates_fast(tmp_path: Path) -> None:
    import time

    reps = ["reps:"] + [f"  - {{id: r{n}, manager: r{n + 1}}}" for n in range(3_000)]
    reps += ["  - {id: r3000, manager: r0}"]  # one loop of 3,001 reps
    config = tmp_path / "c"
    (config / "territories").mkdir(parents=True)
    (config / "territories" / "reps.yaml").write_text("\n".join(reps) + "\n", encoding="utf-8")
    started = time.perf_counter()
    code, out, _ = sfa("validate", "--config", str(config))
    assert code == 1 and out.count("[manager-cycle]") == 1
    assert "the management chain loops: r0 -> r1 -> r2" in out
    assert time.perf_counter() - started < 10


@pytest.mark.parametrize("territories", [
    "territories:\n  - {id: pool, default: true, members: [{rep: a}, {rep: m1}]}\n",
    "territories:\n  - {id: pool, default: true, members: [{rep: a}]}\n"
    "assignment:\n  default_owner: {rep: vp}\n",
])
def test_a_manager_who_does_not_sell_never_receives_records(
    tmp_path: Path, territories: str,
) -> None:
    config = make_config(tmp_path / "c", quotas=False)
    (config / "territories" / "pool.yaml").write_text(territories, encoding="utf-8")
    with pytest.raises(sfa_rules.ConfigError) as caught:
        sfa_rules.load(config)
    # (beside it, what validate proves of the sections the error leaves alone)
    assert [p.code for p in caught.value.problems if p.severity == "error"] == [
        "non-selling-rep"]
    leads = tmp_path / "leads.csv"
    leads.write_text("id,country\nL1,US\n", encoding="utf-8")
    code, out, err = sfa("dry-run", str(leads), "--config", str(config))
    assert code == 1 and out == ""
    assert "territories/pool.yaml:" in err and "takes no records (sells: false) [non-selling-rep]" in err
