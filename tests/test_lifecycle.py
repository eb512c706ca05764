"""Lifecycle case files (tests/cases/lifecycle/*.yaml) through BOTH evaluators.

Each case holds a configuration (``config: shipped``, or files, optionally over
``base: shipped``), a record stream (``rows``, each with its ``type``) and, per row,
the expected decision fields that matter (``expect``; only the keys given are
compared). Every case runs on the built-in evaluator and on durable-rules (where it
imports), and the two must give identical decisions, traces included.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from test_lifecycle_driver import load, play, write_config

from sfa_rules.lifecycle import durable as lifecycle_durable
from sfa_rules.lifecycle.statuses import Lifecycle

CASES = sorted((Path(__file__).parent / "cases" / "lifecycle").glob("*.yaml"))
ENGINES = ["native", "durable"]


def _case(path: Path) -> dict[str, Any]:
    case: dict[str, Any] = yaml.safe_load(path.read_text())
    assert len(case["rows"]) == len(case["expect"]), "one expectation per row"
    return case


def _run(case: dict[str, Any], tmp_path: Path, engine: str, explain: bool) -> list[dict[str, Any]]:
    config, ctx = load(write_config(case["config"], tmp_path / "config"))
    with Lifecycle(config, ctx, engine) as lc:  # type: ignore[arg-type]
        assert lc.engine == engine
        return play(lc, case["rows"], explain=explain)


def _check(decisions: list[dict[str, Any]], case: dict[str, Any]) -> None:
    for i, (got, want) in enumerate(zip(decisions, case["expect"], strict=True), start=1):
        for key, value in want.items():
            if key == "message":  # a part of the message, e.g. the did-you-mean
                assert value in got.get("message", ""), f"row {i}: {got}"
            else:
                assert got.get(key) == value, f"row {i} {key}: {got}"


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
@pytest.mark.parametrize("engine", ENGINES)
def test_case(path: Path, engine: str, tmp_path: Path) -> None:
    if engine == "durable" and not lifecycle_durable.available():
        pytest.skip("durable-rules cannot be imported here")
    case = _case(path)
    _check(_run(case, tmp_path, engine, explain=False), case)


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_both_evaluators_decide_identically(path: Path, tmp_path: Path) -> None:
    if not lifecycle_durable.available():
        pytest.skip("durable-rules cannot be imported here")
    case = _case(path)
    native = _run(case, tmp_path / "n", "native", explain=True)
    durable = _run(case, tmp_path / "d", "durable", explain=True)
    assert native == durable


def _through_engine(case: dict[str, Any], tmp_path: Path, engine: str) -> list[dict[str, Any]]:
    """The same stream through the real engine (``sfa_rules.engine``), as SPEC §8 dicts
    reduced to the driver's shape: error code, field and message; warning codes."""
    from sfa_rules.engine.core import load as load_engine

    folder = write_config(case["config"], tmp_path / "config")
    out = []
    with load_engine(folder, lifecycle_engine=engine) as eng:  # type: ignore[arg-type]
        assert eng.lifecycle_engine == engine
        with eng.session() as session:
            for decision in session.process([dict(row) for row in case["rows"]]):
                d = decision.to_dict()
                if d["error"] is not None:
                    d.update(d["error"], error=d["error"]["code"])
                d["warnings"] = [w.split(":")[0] for w in d["warnings"]]
                out.append(d)
    return out


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
@pytest.mark.parametrize("engine", ENGINES)
def test_case_through_the_engine(path: Path, engine: str, tmp_path: Path) -> None:
    """The lifecycle cases hold end to end too: the engine wires ``Lifecycle`` to a store."""
    if engine == "durable" and not lifecycle_durable.available():
        pytest.skip("durable-rules cannot be imported here")
    case = _case(path)
    _check(_through_engine(case, tmp_path, engine), case)


def test_enough_cases() -> None:
    assert len(CASES) >= 30
