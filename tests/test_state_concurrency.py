"""SPEC §9 with real processes: a run killed at any instant leaves the state of its last
committed batch and a re-run completes it exactly; two concurrent apply runs lose
nothing and end as if one had run after the other."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from backends import BACKENDS, Backend

from sfa_rules.state import open_state

ROWS, BATCH, IDS = 1500, 100, 1100  # rows past IDS repeat earlier ids

# A miniature engine run over the store, the way the engine drives it: replay the
# journal, decide the remaining rows (ids repeat, so a re-decided row would say
# "known"), commit each batch with its decisions, write the output, finish.
_RUN = """
import json, os, signal, sys
from sfa_rules.entities import Customer, Opportunity
from sfa_rules.state import encode_decisions, open_state

path, out, rows, batch, ids = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:6])
kill_at = int(os.environ.get("KILL_AT", "-1"))  # SIGKILL self before deciding this row
stop_at = int(os.environ.get("STOP_AT", "-1"))  # leave cleanly after this many rows
reps = ["ana", "bo", "cy"]
store = open_state(path, dry_run=False, buffer_size=16)  # flushes inside each batch
print("open", flush=True)  # for a parent that times a kill from here
done, replayed = store.resume_point("run-key")
decisions = list(replayed)
pending = []
for i in range(done, rows):
    if i == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)
    if i == stop_at:
        store.close()
        sys.exit(0)
    id = f"L-{i % ids}"
    known = store.get_customer(id)
    if known is not None:
        d = {"row": i, "id": id, "owner": known.owner, "assigned_by": "known"}
        if i % 7 == 0:  # the lead closes: no longer open
            store.put_customer(Customer(id, "LEAD-Dead", known.owner))
            if known.status == "LEAD-New":
                store.add_open(known.owner, -1)
    else:
        rotation = store.get_rotation("t") or {"next": 0}
        owner = reps[rotation["next"] % len(reps)]
        store.set_rotation("t", {"next": rotation["next"] + 1})
        store.put_customer(Customer(id, "LEAD-New", owner, "t", fields={"row": i}))
        store.add_open(owner, 1)
        d = {"row": i, "id": id, "owner": owner, "assigned_by": "territory:t"}
    if i % 5 == 0:
        store.put_opportunity(Opportunity(f"O-{i}", id, "PROSPECT-Proposal", 50, seq=i))
        store.mark_seen("opportunity", f"O-{i}")
    pending.append(d)
    if (i + 1) % batch == 0 or i + 1 == rows:
        store.commit_batch("run-key", i + 1, encode_decisions(pending))
        decisions += pending
        pending = []
if stop_at == rows:  # every batch committed, the run not yet finished
    store.close()
    sys.exit(0)
with open(out + ".tmp", "w") as f:  # the output is safe before the journal goes
    f.writelines(json.dumps(d) + "\\n" for d in decisions)
os.replace(out + ".tmp", out)
store.finish_run("run-key")
print("finished", flush=True)
store.close()
"""


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Backend:
    """Each test runs on a state file and on a PostgreSQL database (SPEC §21)."""
    return Backend(request.param, request)


def _run(path: str, out: Path, env: dict[str, str] | None = None) -> int:
    proc = subprocess.run(
        [sys.executable, "-c", _RUN, str(path), str(out), str(ROWS), str(BATCH), str(IDS)],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode in (0, -signal.SIGKILL), proc.stderr
    return proc.returncode


def _start(path: str, out: Path) -> tuple[subprocess.Popen[str], float]:
    """A run started and past opening its store: the process and that instant."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _RUN, str(path), str(out), str(ROWS), str(BATCH), str(IDS)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline() == "open\n"
    return proc, time.monotonic()


@pytest.fixture(scope="module")
def uninterrupted(
    tmp_path_factory: pytest.TempPathFactory, backend: Backend
) -> tuple[dict[str, Any], str, float]:
    """The state and output of a run nobody interrupts, and how long its rows took."""
    folder = tmp_path_factory.mktemp("reference")
    state = backend.new(folder, "state")
    proc, opened = _start(state, folder / "out.jsonl")
    assert proc.stdout is not None and proc.stdout.readline() == "finished\n"
    seconds = time.monotonic() - opened
    assert proc.wait(timeout=120) == 0
    return backend.dump(state), (folder / "out.jsonl").read_text(), seconds


# One kill point runs in the fast lane (mid-batch); the others with the slow tests.
@pytest.mark.parametrize("kill_at", [
    pytest.param(0, marks=pytest.mark.slow), pytest.param(99, marks=pytest.mark.slow), 100,
    pytest.param(750, marks=pytest.mark.slow), pytest.param(1499, marks=pytest.mark.slow),
])
def test_a_killed_run_resumes_to_the_uninterrupted_result(
    tmp_path: Path, kill_at: int, uninterrupted: tuple[dict[str, Any], str, float],
    backend: Backend,
) -> None:
    _dump = backend.dump
    state, out = backend.new(tmp_path, "state"), tmp_path / "out.jsonl"
    assert _run(state, out, {"KILL_AT": str(kill_at)}) == -signal.SIGKILL
    assert not out.exists()

    # the state is exactly that of a clean run stopped after the last committed batch
    committed = kill_at // BATCH * BATCH
    reference = backend.new(tmp_path, "reference")
    assert _run(reference, tmp_path / "unused", {"STOP_AT": str(committed)}) == 0
    assert _dump(state) == _dump(reference)

    # re-running the same input replays the committed batches and completes the rest
    assert _run(state, out) == 0
    expected_state, expected_out, _ = uninterrupted
    assert _dump(state) == expected_state
    assert out.read_text() == expected_out
    assert len(out.read_text().splitlines()) == ROWS
    assert _dump(state)["journal"] == []  # finished runs leave no journal


@pytest.mark.slow
def test_runs_killed_from_outside_at_random_instants_resume_exactly(
    tmp_path: Path, uninterrupted: tuple[dict[str, Any], str, float], backend: Backend
) -> None:
    _dump = backend.dump
    # kills from outside land anywhere: between rows, inside a flush or a COMMIT. Their
    # timing adapts to this machine's speed until three have landed mid-run.
    rng = random.Random(7)
    expected_state, expected_out, scale = uninterrupted
    episode, checked, attempts = 0, 0, 0
    state, out = backend.new(tmp_path, "0"), tmp_path / "0.jsonl"
    while checked < 3 and attempts < 25:
        attempts += 1
        proc, opened = _start(state, out)
        time.sleep(max(0.0, opened + rng.uniform(0.1, 1.0) * scale - time.monotonic()))
        proc.kill()
        returncode = proc.wait()
        dump = backend.dump(state)
        if returncode == 0 or (dump["customers"] and not dump["journal"]):
            # the run had finished (maybe killed while exiting): it is complete
            assert (dump, out.read_text()) == (expected_state, expected_out)
            scale *= 0.6
            episode += 1
            state, out = backend.new(tmp_path, str(episode)), tmp_path / f"{episode}.jsonl"
        elif not dump["journal"]:
            assert dump["customers"] == [] and not out.exists()  # before its first commit
            scale *= 1.3
        else:
            done = max(r[1] for r in dump["journal"])
            reference = backend.new(tmp_path, f"reference-{attempts}")
            assert _run(reference, tmp_path / "unused", {"STOP_AT": str(done)}) == 0
            assert dump == _dump(reference), f"attempt {attempts}, {done} rows committed"
            checked += 1
    assert checked == 3, f"only {checked} of {attempts} kills landed mid-run"
    assert _run(state, out) == 0  # the interrupted run completes exactly
    assert (_dump(state), out.read_text()) == (expected_state, expected_out)


def test_the_reference_run_is_consistent(
    uninterrupted: tuple[dict[str, Any], str, float], backend: Backend
) -> None:
    state, out, _ = uninterrupted
    decisions = [json.loads(line) for line in out.splitlines()]
    assert [d["row"] for d in decisions] == list(range(ROWS))
    new = [d for d in decisions if d["assigned_by"] != "known"]
    assert len(new) == IDS
    (rotation,) = state["rotations"]
    assert json.loads(rotation[1]) == {"next": IDS}
    # loads agree with a recount from the customers
    owners_open: dict[str, int] = {}
    for row in state["customers"]:
        if row[1] == "LEAD-New":
            owners_open[row[2]] = owners_open.get(row[2], 0) + 1
    assert dict(state["loads"]) == owners_open


# two apply runs at once

_WRITER = """
import os, sys, time
from sfa_rules.entities import Customer
from sfa_rules.state import open_state

path, name, go, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
while not os.path.exists(go):
    time.sleep(0.005)
with open_state(path, dry_run=False, lock_timeout=60) as store:
    for i in range(n):
        rotation = store.get_rotation("t") or {"count": 0, "log": ""}
        store.set_rotation("t", {"count": rotation["count"] + 1, "log": rotation["log"] + name})
        store.add_open("ana", 1)
        store.put_customer(Customer(f"{name}-{i}", "LEAD-New", "ana"))
        if i % 7 == 6:
            store.commit()
            time.sleep(0.001)  # give the other process every chance to interleave
    store.commit()
"""


def test_two_concurrent_apply_runs_lose_no_update(tmp_path: Path, backend: Backend) -> None:
    state, go, n = backend.new(tmp_path, "state"), tmp_path / "go", 200
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(state), name, str(go), str(n)],
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in "AB"
    ]
    time.sleep(0.3)  # both interpreters up and polling
    go.touch()
    for p in procs:
        assert p.wait(timeout=120) == 0, p.communicate()[1]
    dump = backend.dump(state)
    (rotation,) = dump["rotations"]
    data = json.loads(rotation[1])
    assert data["count"] == 2 * n
    assert data["log"] in ("A" * n + "B" * n, "B" * n + "A" * n)  # one after the other
    assert dump["loads"] == [("ana", 2 * n)]
    assert len(dump["customers"]) == 2 * n


# lazy applies (the library session): read like a dry run, take the lock at the first
# commit, and refuse to write over a state another run applied to since they read it

_LAZY = """
import os, sys, time
from sfa_rules.entities import Customer
from sfa_rules.state import StateError, open_state

path, name, go, lazy = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "lazy"
store = open_state(path, dry_run=False, lazy=lazy, lock_timeout=60)
rotation = store.get_rotation("t") or {"count": 0, "log": ""}
store.set_rotation("t", {"count": rotation["count"] + 1, "log": rotation["log"] + name})
store.add_open("ana", 1)
store.put_customer(Customer(name, "LEAD-New", "ana"))
print("read", flush=True)
while not os.path.exists(go):
    time.sleep(0.005)
try:
    store.commit()
    print("applied", flush=True)
except StateError as e:
    print(f"failed: {e}", flush=True)
store.close()
"""


def _reader(state: str, name: str, go: Path, mode: str) -> subprocess.Popen[str]:
    """A run that has read the state and waits for ``go`` to commit."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _LAZY, str(state), name, str(go), mode],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline() == "read\n"
    return proc


def _outcome(proc: subprocess.Popen[str]) -> str:
    # Read through the text stream _reader read "read" from: it may already hold the
    # outcome (communicate(timeout=...) reads the pipe itself and would miss it).
    assert proc.stdout is not None
    out = proc.stdout.read()
    assert proc.wait(timeout=120) == 0
    return out.strip()


def test_two_lazy_runs_over_a_missing_state_one_applies_the_other_fails(
    tmp_path: Path, backend: Backend
) -> None:
    state, go = backend.new(tmp_path / "states", "state"), tmp_path / "go"
    (tmp_path / "states").mkdir()
    procs = {name: _reader(state, name, go, "lazy") for name in "AB"}
    # both have read (nothing) and written nothing
    assert os.listdir(tmp_path / "states") == [] and not backend.exists(state)
    go.touch()
    outcomes = {name: _outcome(p) for name, p in procs.items()}
    assert list(outcomes.values()).count("applied") == 1
    (loser,) = [n for n, o in outcomes.items() if o != "applied"]
    assert outcomes[loser] == (
        f"failed: state {state} changed since this session started (another run applied "
        "to it); nothing was written: run again"
    )
    dump = backend.dump(state)
    (winner,) = set("AB") - {loser}
    assert [json.loads(r[1]) for r in dump["rotations"]] == [{"count": 1, "log": winner}]
    assert dump["loads"] == [("ana", 1)]
    assert [r[0] for r in dump["customers"]] == [winner]


def test_a_lazy_run_that_read_during_an_apply_fails_once_that_apply_commits(
    tmp_path: Path, backend: Backend
) -> None:
    state, go = backend.new(tmp_path, "state"), tmp_path / "go"
    with open_state(state, dry_run=False) as s:  # an existing state
        s.set_rotation("t", {"count": 0, "log": ""})
        s.commit()
    applying = _reader(state, "A", go, "apply")  # holds the run lock, the file in WAL mode
    lazy = _reader(state, "L", go, "lazy")  # reads the state as it was before A's commit
    go.touch()  # A commits and leaves; L's commit waits for the lock, then finds A's
    assert _outcome(applying) == "applied"
    assert _outcome(lazy).startswith(f"failed: state {state} changed since this session")
    dump = backend.dump(state)
    assert [json.loads(r[1]) for r in dump["rotations"]] == [{"count": 1, "log": "A"}]
    assert dump["loads"] == [("ana", 1)]
    again = _reader(state, "L", go, "lazy")  # run again: it applies after A
    assert _outcome(again) == "applied"
    dump = backend.dump(state)
    assert [json.loads(r[1]) for r in dump["rotations"]] == [{"count": 2, "log": "AL"}]
    assert dump["loads"] == [("ana", 2)]
