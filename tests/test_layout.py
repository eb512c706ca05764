"""The layout the architecture promises (docs/ARCHITECTURE.md, issue 12): small modules
and short functions, so that the package keeps reading as its design.

- every module of ``sfa_rules`` has at most ``MAX_MODULE_LINES`` lines;
- every function (method, nested function) has at most ``MAX_FUNCTION_LINES`` lines of
  code, its docstring not counted, unless its docstring says why it is longer, in a
  sentence starting with ``Long:``.
The import layers themselves are import-linter's (the contracts in pyproject.toml).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "sfa_rules"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
MODULES = sorted(PACKAGE.rglob("*.py"))


def _name(path: Path) -> str:
    return path.relative_to(PACKAGE.parent).as_posix()


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_a_module_stays_under_400_lines(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_MODULE_LINES, f"{_name(path)} has {lines} lines: split it by concern"


def _long_functions(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        assert node.end_lineno is not None
        length = node.end_lineno - node.lineno + 1
        doc = ast.get_docstring(node, clean=False)
        first = node.body[0]
        if doc is not None and isinstance(first, ast.Expr) and first.end_lineno is not None:
            length -= first.end_lineno - first.lineno + 1
        if length > MAX_FUNCTION_LINES and "Long:" not in (doc or ""):
            found.append(f"{_name(path)}:{node.lineno} {node.name} ({length} lines)")
    return found


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_a_function_stays_under_60_lines_or_says_why(path: Path) -> None:
    assert _long_functions(path) == []


def test_the_layout_check_sees_the_package() -> None:
    assert len(MODULES) > 40 and any(p.name == "session.py" for p in MODULES)


def test_the_cli_loads_no_durable_rules_until_a_run_asks_for_it() -> None:
    """Every ``sfa`` command imports the CLI; durable-rules' C extension loads only when
    a lifecycle engine is built (``EngineUnavailable`` lives in ``errors``)."""
    code = ("import sys, sfa_rules.cli.main, sfa_rules.api; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('durable', 'durable_rules_engine') or m == 'sfa_rules.lifecycle.durable'))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, timeout=60)
    assert done.stdout.strip() == "[]"
