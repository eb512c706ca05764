"""``sfa`` as users run it: the installed executable in a real process (SPEC §10).

A few end-to-end runs only (each process costs about a second); the behaviour in
detail is tested through click's runner in ``test_cli.py``.
"""

from __future__ import annotations

import json
import os
import pty
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import CASES, REPO

SFA = [shutil.which("sfa")] if shutil.which("sfa") else [sys.executable, "-m", "sfa_rules"]
EXAMPLES = ("examples/customers.csv", "examples/leads.csv", "examples/opportunities.csv",
            "examples/estimates.csv", "examples/sales_orders.csv")


def run(*args: str, cwd: Path = REPO, command: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "120"}
    return subprocess.run([*(command or SFA), *args], cwd=cwd, capture_output=True, text=True,
                          env=env, timeout=120, stdin=subprocess.DEVNULL, check=False)


def test_dry_run_prints_decisions_on_stdout_and_the_summary_on_stderr() -> None:
    done = run("dry-run", *EXAMPLES, "--config", str(REPO))
    assert done.returncode == 0, done.stderr
    assert done.stdout == (CASES / "cli" / "examples.dry-run.jsonl").read_text(encoding="utf-8")
    assert done.stderr == (CASES / "cli" / "examples.dry-run.stderr").read_text(encoding="utf-8")


def test_apply_then_state_show(tmp_path: Path) -> None:
    state = str(tmp_path / "sfa-state.db")
    out = tmp_path / "decisions.jsonl"
    done = run("apply", "examples/leads.csv", "--state", state, "--out", str(out),
               "--config", str(REPO))
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert len(out.read_text(encoding="utf-8").splitlines()) == 44
    assert done.stderr.rstrip().endswith(f"(applied to {state})")
    shown = run("state", "show", "--state", state, "--format", "json", "--config", str(REPO))
    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)
    assert sum(data["loads"].values()) == 43  # LEAD-Dead L-1039 is not open
    assert {r["territory"] for r in data["rotations"] if r["rotation"]} >= {"us-west", "us-east"}


def test_missing_file_exits_2_with_a_message_and_no_traceback(tmp_path: Path) -> None:
    done = run("dry-run", "nowhere/leads.csv", "--config", str(REPO), cwd=tmp_path)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == "sfa: nowhere/leads.csv: cannot read: no such file\n"


def test_python_dash_m_help() -> None:
    done = run("--help", command=[sys.executable, "-m", "sfa_rules"])
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Usage: sfa ")
    for command in ("apply", "diff", "dry-run", "explain", "forecast", "schema", "state",
                    "validate"):
        assert f"\n  {command} " in done.stdout


def test_validate_in_an_empty_folder_uses_the_packaged_configuration(tmp_path: Path) -> None:
    done = run("validate", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout == ""
    assert done.stderr.startswith("0 errors, 0 warnings")
    assert list(tmp_path.iterdir()) == []


def on_a_terminal(*args: str) -> tuple[int, str]:
    """Run with stdout on a pseudo-terminal, as a person at a shell would."""
    master, slave = pty.openpty()
    process = subprocess.Popen([*SFA, *args], cwd=REPO, stdout=slave, stderr=subprocess.PIPE,
                               stdin=subprocess.DEVNULL)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    process.communicate(timeout=120)
    return process.returncode, b"".join(chunks).decode("utf-8").replace("\r\n", "\n")


def test_a_person_at_a_terminal_gets_tables() -> None:
    code, out = on_a_terminal("dry-run", "examples/leads.csv", "--config", str(REPO))
    assert code == 0
    assert out.split("\n")[0].split()[:4] == ["row", "type", "id", "owner"]
    code, out = on_a_terminal("forecast", "examples/leads.csv", "examples/opportunities.csv",
                              "--config", str(REPO))
    assert code == 0
    assert not out.lstrip().startswith("[")  # a table, not JSON
    assert "862,000.00" in out
