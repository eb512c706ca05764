"""Differential test of ``sfa validate`` on random plans (issue 13): the problems
(codes, messages, file:line:col) must be exactly those recorded from the analysis as
it was before it was made faster (tests/cases/validate_plans: every line for small
plans, a digest and the counts by code for the larger ones). They were recorded with
no limit on the analysis' work, so they are checked with none (``UNLIMITED``)."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner
from plans import lines, write

from sfa_rules.analysis.scan import Findings
from sfa_rules.analysis.static import Analysis
from sfa_rules.api import validate_config
from sfa_rules.cli.main import main
from sfa_rules.config.loader import load_config

CASES = sorted((Path(__file__).parent / "cases" / "validate_plans").glob("*.json"))
FIELDS = ("file", "line", "column", "severity", "code", "message")
FAST = [c for c in CASES if json.loads(c.read_text())["territories"] <= 300]
UNLIMITED = 10**15


def _run(case: Path, tmp_path: Path) -> None:
    want = json.loads(case.read_text(encoding="utf-8"))
    write(want["generator"], want["territories"], want["seed"], tmp_path, limit=UNLIMITED)
    _, _, problems = validate_config(tmp_path)
    got = lines([{k: getattr(p, k) for k in FIELDS} for p in problems])
    if "problems" in want:
        assert got == want["problems"]
    assert dict(sorted(Counter(p.code for p in problems).items())) == want["counts"]
    assert hashlib.sha256("\n".join(got).encode()).hexdigest() == want["sha256"]


@pytest.mark.parametrize("case", FAST, ids=lambda c: c.stem)
def test_validate_reports_what_it_did_before(case: Path, tmp_path: Path) -> None:
    _run(case, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("case", [c for c in CASES if c not in FAST], ids=lambda c: c.stem)
def test_validate_reports_what_it_did_before_on_larger_plans(case: Path, tmp_path: Path) -> None:
    _run(case, tmp_path)


def _findings(folder: Path, limit: int) -> tuple[Findings, list[int], list[str]]:
    """The territory findings with ``limit``, the try order and the territory ids."""
    config, sm, problems = load_config(folder)
    assert not problems
    config = config.model_copy(update={"settings": config.settings.model_copy(
        update={"analysis_limit": limit})})
    analysis = Analysis(config, sm)
    return analysis.territory_findings, analysis.territory_order, [t.id for t in config.territories]


@pytest.mark.parametrize("limit", [0, 5_000, 60_000, 400_000])
def test_a_limit_keeps_every_finding_it_reached(limit: int, tmp_path: Path) -> None:
    """Past ``settings.analysis_limit`` the scan stops: every territory it reached is
    reported as with no limit, and every exact one from there on is left out."""
    write("public", 300, 1, tmp_path)
    full, order, _ = _findings(tmp_path, UNLIMITED)
    cut, _, _ = _findings(tmp_path, limit)
    assert cut.stopped and not full.stopped
    later = order[order.index(cut.stopped[0]):]
    assert cut.stopped == [i for i in later if i in full.residual or i in full.shadowed
                           or i in full.not_analysed and i not in cut.not_analysed]
    gone = set(cut.stopped)
    assert cut.shadowed == {i: c for i, c in full.shadowed.items() if i not in gone}
    assert cut.residual == {i: r for i, r in full.residual.items() if i not in gone}
    assert cut.not_analysed == {i: r for i, r in full.not_analysed.items() if i not in gone}
    assert cut.ambiguous == [x for x in full.ambiguous if x[1] not in gone]


def test_validate_names_where_the_analysis_stopped(tmp_path: Path) -> None:
    write("public", 300, 1, tmp_path, limit=60_000)
    result = CliRunner().invoke(main, ["validate", "--config", str(tmp_path), "--format", "json"])
    assert result.exit_code == 0, result.output
    notes = [p for p in json.loads(result.stdout) if "reached its limit" in p["message"]]
    cut, _, ids = _findings(tmp_path, 60_000)
    assert len(notes) == 1
    note = notes[0]
    assert (note["severity"], note["code"]) == ("info", "not-analysed")
    assert note["message"].endswith(
        f"and the {len(cut.stopped) - 1:,} territories tried after it are not analysed: the "
        "analysis reached its limit of 60,000 comparisons (settings.analysis_limit; raise it "
        "to analyse them, at about half a second per million)")
    first = ids[cut.stopped[0]]
    assert note["message"].startswith(f"territory '{first}' and the ")
    line = (tmp_path / note["file"]).read_text(encoding="utf-8").splitlines()[note["line"] - 1]
    assert line[note["column"] - 1:] == f"id: {first}"
