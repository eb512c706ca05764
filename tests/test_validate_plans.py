"""Differential test of ``sfa validate`` on random plans (issue 13): the problems
(codes, messages, file:line:col) must be exactly those recorded from the analysis as
it was before it was made faster (tests/cases/validate_plans: every line for small
plans, a digest and the counts by code for the larger ones)."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

import pytest
from plans import lines, write

from sfa_rules.api import validate_config

CASES = sorted((Path(__file__).parent / "cases" / "validate_plans").glob("*.json"))
FIELDS = ("file", "line", "column", "severity", "code", "message")
FAST = [c for c in CASES if json.loads(c.read_text())["territories"] <= 300]


def _run(case: Path, tmp_path: Path) -> None:
    want = json.loads(case.read_text(encoding="utf-8"))
    write(want["generator"], want["territories"], want["seed"], tmp_path)
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
