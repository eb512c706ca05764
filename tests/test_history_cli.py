"""``sfa state history`` and the activity and contact files end to end (SPEC §18): the
examples applied, the history of a lead in date order as a table and as JSON Lines, an
unknown customer, and a second apply of the same files that adds nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_cli import CONFIG, EXAMPLES, sfa, write

ACTIVITY_FILES = (*EXAMPLES, "examples/activities.csv", "examples/contacts.csv")
AS_OF = "2026-03-20"


@pytest.fixture
def state(tmp_path: Path) -> str:
    path = str(tmp_path / "st.db")
    r = sfa("apply", *ACTIVITY_FILES, "--state", path, "--as-of", AS_OF, "--format", "jsonl",
            *CONFIG)
    assert r.code == 0, r.err
    decisions = r.jsonl()
    events = [d["event"] for d in decisions if d["type"] in ("activity", "contact")]
    assert events == ["activity.call", "activity.meeting", "activity.email", "activity.call",
                      "activity.call", "activity.meeting", "activity.task",
                      "contact.created", "contact.created", "contact.created"]
    assert all(d["error"] is None for d in decisions)
    assert all(d["customer_status"] for d in decisions if d["type"] in ("activity", "contact"))
    return path


def _history(state: str, customer: str) -> list[dict[str, object]]:
    r = sfa("state", "history", customer, "--state", state, "--format", "jsonl")
    assert r.code == 0, r.err
    return [json.loads(line) for line in r.out.splitlines()]


def test_the_history_of_a_lead_in_date_order(state: str) -> None:
    lines = _history(state, "L-1001")
    assert [(e["date"], e["kind"]) for e in lines][:4] == [
        ("2026-03-02", "status"), ("2026-03-02", "assignment"),
        ("2026-03-03", "activity"), ("2026-03-06", "activity")]
    assert lines[1] == {"customer": "L-1001", "date": "2026-03-02", "kind": "assignment",
                        "detail": {"owner": "ana.gomez", "territory": "us-west",
                                   "how": "territory:us-west"},
                        "source": "examples/leads.csv:1"}
    dates = [e["date"] for e in lines]
    assert dates == sorted(dates)
    kinds = {e["kind"] for e in lines}
    assert kinds == {"status", "assignment", "activity", "opportunity", "contact"}
    task = next(e for e in lines if e["detail"].get("kind") == "task")
    assert (task["date"], task["source"]) == (AS_OF, "examples/activities.csv:7")


def test_the_table_names_each_line_and_its_source(state: str) -> None:
    r = sfa("state", "history", "L-1001", "--state", state)
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    assert lines[0].split() == ["date", "what", "detail", "source"]
    assert "ana.gomez in us-west (territory:us-west)" in lines[2]
    assert lines[2].endswith("examples/leads.csv:1")
    assert any("LEAD-New -> PROSPECT-Identified Opportunity on opportunity.created" in line
               for line in lines)


@pytest.mark.parametrize(("args", "message"), [
    (["L-404"], "sfa: no customer 'L-404' in the state"),
    (["L-1001", "--format", "xml"], "Invalid value for '--format'"),
])
def test_an_unknown_customer_or_format_is_a_usage_error(
    state: str, args: list[str], message: str
) -> None:
    r = sfa("state", "history", *args, "--state", state)
    assert r.code == 2
    assert message in r.err


def test_no_state_is_a_usage_error(tmp_path: Path) -> None:
    r = sfa("state", "history", "L-1001", "--state", str(tmp_path / "none.db"))
    assert (r.code, r.out) == (2, "")
    assert "no state at" in r.err


def test_applying_the_same_files_again_adds_nothing(state: str) -> None:
    before = {cid: _history(state, cid) for cid in ("L-1001", "L-1003", "C-9001", "C-9002")}
    r = sfa("apply", *ACTIVITY_FILES, "--state", state, "--as-of", AS_OF, "--format", "jsonl",
            *CONFIG)
    assert r.code == 0, r.err
    again = [d for d in r.jsonl() if d["type"] in ("activity", "contact")]
    assert {d["event"] for d in again} == {None}
    assert {cid: _history(state, cid) for cid in before} == before


def test_an_activity_without_id_counts_once_per_place_in_its_input(
    state: str, tmp_path: Path
) -> None:
    calls = write(tmp_path / "activities.csv",
                  "customer,kind,date\nL-1002,call,2026-03-07\nL-1002,call,2026-03-07\n")
    for run, warnings in ((1, [[], []]), (2, [["already-applied"], ["already-applied"]])):
        r = sfa("apply", calls, "--state", state, "--format", "jsonl", *CONFIG)
        assert r.code == 0, (run, r.err)
        assert [[w.split(":")[0] for w in d["warnings"]] for d in r.jsonl()] == warnings
    calls_seen = [e for e in _history(state, "L-1002") if e["detail"].get("kind") == "call"]
    assert [e["source"] for e in calls_seen] == [f"{calls}:1", f"{calls}:2"]
