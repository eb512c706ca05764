"""Configuration limits (issue 14, item 8): what validates, runs.

Each limit is tested on both sides: at the limit the configuration validates and a
dry run (with --explain, both lifecycle engines) decides every row; one past it,
``validate`` reports ``too-deep`` at the position that crosses it and a run refuses
the configuration, with no traceback either way.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import REPO, WriteConfig

from sfa_rules.api import validate_config as validate
from sfa_rules.cli.main import main
from sfa_rules.config.checks import MAX_PARENTS
from sfa_rules.criteria.depth import MAX_CRITERIA_DEPTH
from sfa_rules.lifecycle import durable

LEADS = REPO / "examples" / "leads.csv"
ORDERS = REPO / "examples" / "sales_orders.csv"  # their events try the guard
REPS = "reps:\n  - {id: ana}\n  - {id: bob}\n"
LIFECYCLE = """\
statuses:
  - {id: LEAD-New, stage: lead, probability: 0}
  - {id: LEAD-Dead, stage: lead, probability: 0, closed: true}
  - {id: LEAD-Qualified, stage: lead, probability: 0}
  - {id: PROSPECT-New, stage: prospect, probability: 10}
  - {id: CUSTOMER-Won, stage: customer, probability: 100}
"""


def sfa(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # a traceback is never an acceptable outcome
    return result.exit_code, result.stdout, result.stderr


def rule_chain(length: int, reverse: bool = False) -> str:
    """r0 .. r{length-1}, each rule requiring the previous one and one condition."""
    items = ["  - id: r0\n    when: {country: US}\n"] + [
        f"  - id: r{i}\n    when: {{rule: r{i - 1}, employees: {{gte: {i}}}}}\n"
        for i in range(1, length)]
    return "sales_rules:\n" + "".join(items[::-1] if reverse else items)


def parent_chain(territories: int, rule: str | None = None) -> str:
    """p0 .. p{territories-1}, each the parent of the next (so the last has
    territories-1 parents above it)."""
    out = ["territories:\n"]
    for i in range(territories):
        out.append(f"  - id: p{i}\n    priority: 5\n")
        if rule is not None:
            out.append(f"    rules: [{rule}]\n")
        out.append(f"    when: {{any: [{{zip: {{prefix: '{i}'}}}}, {{not: {{state: X{i}}}}}]}}\n")
        if i:
            out.append(f"    parent: p{i - 1}\n")
        out.append("    members: [{rep: ana}]\n")
    out.append("  - id: pool\n    default: true\n    members: [{rep: bob}]\n")
    return "".join(out)


def config(write_config: WriteConfig, rules: str = "", territories: str = "",
           guard: str | None = None) -> Path:
    lifecycle = LIFECYCLE
    if guard is not None:
        lifecycle += ("lifecycle:\n  transitions:\n    - id: won\n      on: [sales_order.created]\n"
                      f"      to: CUSTOMER-Won\n      when: {guard}\n")
    files = {"rules/lifecycle.yaml": lifecycle, "territories/reps.yaml": REPS,
             "territories/t.yaml": territories or parent_chain(1)}
    if rules:
        files["rules/chain.yaml"] = rules
    return write_config(files)


def too_deep(folder: Path) -> list[str]:
    _, _, problems = validate(folder)
    assert all(p.code == "too-deep" for p in problems if p.severity == "error"), problems
    return [f"{p.file}:{p.line}:{p.column}" for p in problems if p.severity == "error"]


def runs(folder: Path, engine: str = "native") -> list[dict[str, object]]:
    code, out, err = sfa("dry-run", "--config", str(folder), str(LEADS), str(ORDERS),
                         "--format", "jsonl", "--explain", "--lifecycle-engine", engine)
    decisions = [json.loads(line) for line in out.splitlines()]
    assert code == 0, err
    assert len(decisions) == sum(
        f.read_text(encoding="utf-8").count("\n") - 1 for f in (LEADS, ORDERS))
    assert [d["error"] for d in decisions if d["error"]] == []
    return decisions


def refused(folder: Path) -> None:
    code, out, err = sfa("dry-run", "--config", str(folder), str(LEADS), "--format", "jsonl")
    assert (code, out) == (1, "") and "configuration has errors" in err


ENGINES = ["native"] + (["durable"] if durable.available() else [])


def test_the_limits_are_as_documented() -> None:
    assert (MAX_CRITERIA_DEPTH, MAX_PARENTS) == (50, 20)


@pytest.mark.parametrize("reverse", [False, True], ids=["file-order", "reverse-order"])
@pytest.mark.parametrize("engine", ENGINES)
def test_a_rule_chain_at_the_limit_validates_and_runs(
        write_config: WriteConfig, reverse: bool, engine: str) -> None:
    # r25 nests 50 levels: 25 references, each with its block of two entries
    folder = config(write_config, rule_chain(26, reverse), parent_chain(1, "r25"))
    assert too_deep(folder) == []
    decisions = runs(folder, engine)
    assert {d["territory"] for d in decisions} <= {"p0", "pool"}


@pytest.mark.parametrize("length, reverse, where", [
    (27, False, "rules/chain.yaml:55:11"),      # r26 is the first past the limit
    (200, False, "rules/chain.yaml:55:11"),     # the chain: one problem
    (350, False, "rules/chain.yaml:55:11"),
    (1000, True, "rules/chain.yaml:101:18"),   # resolved from the top: cut at 50 deep
])
def test_a_rule_chain_past_the_limit_is_too_deep_once(
        write_config: WriteConfig, length: int, reverse: bool, where: str) -> None:
    folder = config(write_config, rule_chain(length, reverse), parent_chain(1, f"r{length - 1}"))
    started = time.monotonic()
    assert too_deep(folder) == [where]
    assert time.monotonic() - started < 10
    code, out, _ = sfa("validate", "--config", str(folder))
    assert code == 1 and f"{where}: error:" in out and "the limit is 50" in out
    refused(folder)


def _nots(levels: int) -> str:
    return "{not: " * levels + "{country: XX}" + "}" * levels


@pytest.mark.parametrize("levels, problems", [(50, []), (51, ["rules/lifecycle.yaml:12:13"])])
def test_a_guard_nested_to_the_limit(write_config: WriteConfig, levels: int,
                                     problems: list[str]) -> None:
    folder = config(write_config, guard=_nots(levels))
    assert too_deep(folder) == problems
    if problems:
        refused(folder)
    else:
        runs(folder)


@pytest.mark.parametrize("engine", ENGINES)
def test_a_parent_chain_at_the_limit_validates_and_runs(
        write_config: WriteConfig, engine: str) -> None:
    """20 parents above the last territory, each territory also requiring a rule at
    the criteria limit, and a guard at it: the deepest combination that validates."""
    folder = config(write_config, rule_chain(26), parent_chain(MAX_PARENTS + 1, "r25"),
                    guard="{rule: r24}")
    assert too_deep(folder) == []
    runs(folder, engine)
    code, out, err = sfa("forecast", "--config", str(folder), str(LEADS), "--format", "json")
    assert code == 0, err
    json.loads(out)


@pytest.mark.parametrize("territories", [MAX_PARENTS + 2, 200, 1000])
def test_a_parent_chain_past_the_limit_is_too_deep_once(
        write_config: WriteConfig, territories: int) -> None:
    folder = config(write_config, territories=parent_chain(territories))
    started = time.monotonic()
    # p21 is the first territory with 21 parents above it
    assert too_deep(folder) == [f"territories/t.yaml:{1 + 4 + 20 * 5 + 4}:13"]
    assert time.monotonic() - started < 10
    code, out, _ = sfa("validate", "--config", str(folder))
    assert code == 1 and "territory 'p21' has more than 20 parents" in out
    refused(folder)
