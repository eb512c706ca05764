"""``sfa due`` and ``sfa follow-up`` end to end (SPEC §18): the examples applied, what
is due as JSON Lines, CSV and a table, carrying it out once (a second run for the same
day changes nothing), dry runs that write nothing, a killed run resumed, and the
mistakes a user makes (no state, a bad date, a configuration with errors)."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any

import pytest
from test_cli import CONFIG, sfa, write
from test_cli_subprocess import run

from sfa_rules import api_followups
from sfa_rules.engine.followups import FollowUps

FILES = ("examples/leads.csv", "examples/customers.csv", "examples/activities.csv")
DUE_KEYS = ["customer", "follow_up", "owner", "clock_start", "due", "days_overdue", "action"]


@pytest.fixture
def state(tmp_path: Path) -> str:
    path = str(tmp_path / "st.db")
    r = sfa("apply", *FILES, "--state", path, "--as-of", "2026-03-10", "--format", "jsonl",
            *CONFIG)
    assert r.code == 0, r.err
    return path


def _digest(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_due_lists_what_is_due_as_json_lines(state: str) -> None:
    before = _digest(state)
    r = sfa("due", "--state", state, "--as-of", "2026-03-20", "--format", "jsonl", *CONFIG)
    assert r.code == 0, r.err
    rows = r.jsonl()
    assert [list(row) for row in rows] == [DUE_KEYS] * len(rows)
    assert rows == [
        {"customer": "L-1004", "follow_up": "first-touch", "owner": "ana.gomez",
         "clock_start": "2026-03-12", "due": "2026-03-17", "days_overdue": 3,
         "action": {"reassign": "next_in_territory"}},
        {"customer": "L-1005", "follow_up": "first-touch", "owner": "luis.perez",
         "clock_start": "2026-03-16", "due": "2026-03-19", "days_overdue": 1,
         "action": {"reassign": "next_in_territory"}},
    ]
    assert "2 follow-ups due as of 2026-03-20" in r.err
    assert _digest(state) == before  # nothing written


@pytest.mark.parametrize(("fmt", "first"), [
    ("csv", "customer,follow_up,owner,clock_start,due,days_overdue,action"),
    ("table", "customer  follow_up    owner       clock_start  due         days_overdue  action"),
])
def test_due_as_csv_and_table(state: str, fmt: str, first: str) -> None:
    r = sfa("due", "--state", state, "--as-of", "2026-03-20", "--format", fmt, *CONFIG)
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    assert lines[0] == first
    assert len(lines) == 3 and lines[1].startswith("L-1004")


def test_follow_up_carries_it_out_once(state: str) -> None:
    r = sfa("follow-up", "--state", state, "--as-of", "2026-03-20", "--format", "jsonl", *CONFIG)
    assert r.code == 0, r.err
    rows = r.jsonl()
    assert [(d["type"], d["id"], d["assigned_by"], d["owner"]) for d in rows] == [
        ("follow_up", "L-1004", "follow-up:first-touch", "luis.perez"),
        ("follow_up", "L-1005", "follow-up:first-touch", "ana.gomez"),
    ]
    assert all(d["alert"] is None and d["transition"] is None for d in rows)
    assert "(applied to" in r.err
    # the summary counts the reassignments as a run's assignments
    assert "assigned to owner: ana.gomez 1, luis.perez 1" in r.err
    assert "assigned how: follow-up 2" in r.err
    again = sfa("follow-up", "--state", state, "--as-of", "2026-03-20", "--format", "jsonl",
                *CONFIG)
    assert again.code == 0 and again.out == ""
    assert sfa("due", "--state", state, "--as-of", "2026-03-20", *CONFIG).out == ""
    history = sfa("state", "history", "L-1004", "--state", state, "--format", "jsonl")
    last = history.jsonl()[-1]
    assert (last["kind"], last["detail"]["owner"], last["source"]) == (
        "assignment", "luis.perez", "follow-up:first-touch")


def test_follow_up_status_changes_carry_transition_and_event(state: str) -> None:
    r = sfa("follow-up", "--state", state, "--as-of", "2026-05-01", "--format", "jsonl", *CONFIG)
    assert r.code == 0, r.err
    dead = [d for d in r.jsonl() if d["status"] == "LEAD-Dead"]
    assert dead and all(d["transition"] == "stale-lead" and d["event"] == "follow_up.stale-lead"
                        and d["previous_status"] for d in dead)


def test_dry_run_writes_nothing_and_shows_the_same(state: str, tmp_path: Path) -> None:
    copy = str(tmp_path / "copy.db")
    shutil.copy(state, copy)
    before = _digest(state)
    dry = sfa("follow-up", "--state", state, "--as-of", "2026-04-30", "--dry-run",
              "--format", "jsonl", *CONFIG)
    assert dry.code == 0 and "(dry run: nothing written)" in dry.err
    assert _digest(state) == before
    real = sfa("follow-up", "--state", copy, "--as-of", "2026-04-30", "--format", "jsonl", *CONFIG)
    assert dry.out == real.out and len(real.jsonl()) > 2


def test_a_killed_run_resumes_where_it_stopped(state: str, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    copy = str(tmp_path / "copy.db")
    shutil.copy(state, copy)
    whole = sfa("follow-up", "--state", copy, "--as-of", "2026-04-30", "--format", "jsonl",
                *CONFIG).jsonl()
    monkeypatch.setattr(api_followups, "BATCH_ROWS", 2)
    carry_out = FollowUps.carry_out

    def killed(self: FollowUps, store: Any, as_of: str) -> Any:
        for n, decision in enumerate(carry_out(self, store, as_of)):
            if n == 5:
                raise KeyboardInterrupt  # killed half way: two batches of 2 committed
            yield decision

    monkeypatch.setattr(FollowUps, "carry_out", killed)
    request = api_followups.FollowUpRequest(state=state, as_of="2026-04-30",
                                            config=Path(CONFIG[1]))
    with pytest.raises(KeyboardInterrupt):
        api_followups.follow_up(request)
    monkeypatch.setattr(FollowUps, "carry_out", carry_out)
    resumed = sfa("follow-up", "--state", state, "--as-of", "2026-04-30", "--format", "jsonl",
                  *CONFIG)
    assert resumed.code == 0, resumed.err
    assert resumed.jsonl() == whole
    assert sfa("due", "--state", state, "--as-of", "2026-04-30", "--format", "jsonl",
               *CONFIG).out == sfa("due", "--state", copy, "--as-of", "2026-04-30",
                                   "--format", "jsonl", *CONFIG).out


@pytest.mark.parametrize(("args", "message"), [
    (("--state", "nowhere.db", "--as-of", "2026-03-20"), "no state at nowhere.db"),
    (("--state", "{state}", "--as-of", "2026-13-01"), "is not a date (YYYY-MM-DD)"),
    (("--state", "{state}"), "Missing option '--as-of'"),
])
@pytest.mark.parametrize("command", ["due", "follow-up"])
def test_usage_errors_exit_2(state: str, command: str, args: tuple[str, ...],
                             message: str) -> None:
    r = sfa(command, *(a.format(state=state) for a in args), *CONFIG)
    assert r.code == 2
    assert message in r.err


def test_a_configuration_with_errors_exits_1(state: str, tmp_path: Path) -> None:
    folder = tmp_path / "cfg"
    shutil.copytree(Path(CONFIG[1]) / "rules", folder / "rules")
    shutil.copytree(Path(CONFIG[1]) / "territories", folder / "territories")
    write(folder / "rules" / "follow-ups.yaml",
          "follow_ups:\n  - id: x\n    within: 2 days\n    then: {status: LEAD-Ded}\n")
    r = sfa("due", "--state", state, "--as-of", "2026-03-20", "--config", str(folder))
    assert r.code == 1
    assert "rules/follow-ups.yaml:4:20: error: follow-up 'x': unknown status 'LEAD-Ded' " \
           "(did you mean 'LEAD-Dead'?) [unknown-status]" in r.err


def test_sfa_due_through_the_installed_command(state: str) -> None:
    done = run("due", "--state", state, "--as-of", "2026-03-20", *CONFIG)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count('"follow_up": "first-touch"') == 2  # not a terminal: JSON Lines
