"""``sfa follow-up`` killed with SIGKILL at random instants and run again (SPEC §18:
committed like apply): it ends as a run never killed, with the same decisions (the
committed batches replayed from the journal, then the rest), the same customers and
the same reps' loads."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from test_cli import REPO

from sfa_rules.engine.core import load
from sfa_rules.engine.session import BATCH_ROWS
from sfa_rules.entities import Customer
from sfa_rules.state import SQLiteStore

SFA = [sys.executable, "-m", "sfa_rules"]
CUSTOMERS = 3 * BATCH_ROWS + 123
AS_OF = "2026-06-01"


def build(path: Path) -> None:
    """New leads assigned in May and never worked: the first touch is due for all."""
    engine = load(REPO)
    territories = [(t.id, t.members[0].rep) for t in engine.config.territories if t.members]
    rnd = random.Random(7)
    with SQLiteStore(path, dry_run=False) as store:
        for n in range(CUSTOMERS):
            tid, rep = rnd.choice(territories)
            day = f"2026-05-{rnd.randrange(1, 20):02d}"
            store.put_customer(Customer(f"L-{n:06d}", "LEAD-New", rep, tid, False, {}, day, day))
            store.add_open(rep, 1)
        store.commit()


def args(state: Path, out: Path) -> list[str]:
    return ["follow-up", "--state", str(state), "--as-of", AS_OF, "--out", str(out),
            "--config", str(REPO)]


def tables(state: Path) -> tuple[list[tuple[object, ...]], ...]:
    with sqlite3.connect(state) as db:
        return tuple(db.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall()
                     for t in ("customers", "loads", "rotations"))


@dataclass
class Clean:
    state: Path
    out: bytes
    seconds: float


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Clean:
    folder = tmp_path_factory.mktemp("clean")
    state, out = folder / "s.db", folder / "out.jsonl"
    build(state)
    (folder / "fresh.db").write_bytes(state.read_bytes())
    start = time.perf_counter()
    subprocess.run([*SFA, *args(state, out)], cwd=REPO, check=True, capture_output=True)
    return Clean(state, out.read_bytes(), time.perf_counter() - start)


@pytest.mark.parametrize("seed", [1, 2])
def test_a_killed_follow_up_run_again_ends_as_a_clean_run(clean: Clean, tmp_path: Path,
                                                          seed: int) -> None:
    rng = random.Random(seed)
    state, out = tmp_path / "s.db", tmp_path / "out.jsonl"
    state.write_bytes((clean.state.parent / "fresh.db").read_bytes())
    killed = 0
    for _ in range(rng.randint(1, 2)):
        process = subprocess.Popen([*SFA, *args(state, out)], cwd=REPO,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        time.sleep(rng.uniform(0.3, 0.9) * clean.seconds)
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
        _, err = process.communicate(timeout=300)
        if process.returncode != -signal.SIGKILL:
            assert process.returncode == 0, err
            break
        killed += 1
    done = subprocess.run([*SFA, *args(state, out)], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    # a run killed after its output was in place but before its last commit is
    # completed by this one (its output again); one killed after it leaves nothing due
    assert out.read_bytes() in (clean.out, b"")
    assert tables(state) == tables(clean.state)
    if killed == 0:
        pytest.skip("every run finished before its kill")
