"""The PostgreSQL state's own promises (SPEC §9, §21), beyond the shared contract suite
(tests/test_state.py and tests/test_state_concurrency.py run on both stores): it behaves
like the in-memory store under random operations, dry runs write nothing, clear errors,
and `sfa apply --state postgresql://...` end to end: killed with SIGKILL and re-run, or
two at once, it ends as the runs applied one after the other."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from backends import Backend
from click.testing import CliRunner
from conftest import CASES, REPO
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pgserver import PostgresServer
from test_state import _observe, _op, _run_side_by_side

from sfa_rules.cli.main import main
from sfa_rules.entities import Customer
from sfa_rules.state import MemoryStore, StateError, open_state

psycopg = pytest.importorskip("psycopg")
from sfa_rules.state.postgres import PostgresStore  # noqa: E402
from sfa_rules.state.postgres_parts import redact  # noqa: E402

AS_OF = "2026-03-01"
SFA = [sys.executable, "-m", "sfa_rules"]


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(_op, min_size=5, max_size=30), mode=st.sampled_from(["apply", "lazy", "dry"]))
def test_the_postgres_store_behaves_like_memory_store(
    postgres: PostgresServer, ops: list[tuple[Any, ...]], mode: str
) -> None:
    url = postgres.new_database()
    memory = MemoryStore()
    with PostgresStore(url, dry_run=mode == "dry", lazy=mode == "lazy", buffer_size=2) as pg:
        _run_side_by_side(memory, pg, ops)
        if mode != "dry":
            pg.commit()
            memory.commit()
    if mode != "dry":  # what was committed is what a new session reads
        with PostgresStore(url, dry_run=True) as reopened:
            assert _observe(reopened) == _observe(memory)


def _tables(url: str) -> dict[str, Any]:
    with psycopg.connect(url) as db:
        names = [r[0] for r in db.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'sfa'"
            " ORDER BY 1")]
        return {n: sorted(map(repr, db.execute(f"SELECT * FROM sfa.{n}"))) for n in names}


@pytest.mark.parametrize("commit", [False, True])
def test_a_dry_run_writes_nothing(postgres: PostgresServer, commit: bool) -> None:
    url = postgres.new_database()
    with PostgresStore(url, dry_run=True) as s:  # over no state: nothing is created
        s.put_customer(Customer("C-1", "LEAD-New", "ana"))
        s.commit()
    assert _tables(url) == {}
    with PostgresStore(url, dry_run=False) as s:
        s.put_customer(Customer("C-0", "LEAD-New", "bo"))
        s.set_rotation("t", {"next": 1})
        s.commit()
    before = _tables(url)
    with PostgresStore(url, dry_run=True) as s:
        s.put_customer(Customer("C-1", "LEAD-New", "ana"))
        s.put_customer(Customer("C-0", "LEAD-Dead", "bo"))
        s.reset_rotation("t")
        s.add_open("ana", 1)
        if commit:
            s.commit()
        assert s.get_customer("C-0") == Customer("C-0", "LEAD-Dead", "bo")
        assert s.rotations() == {}
    assert _tables(url) == before


def test_an_unreachable_server_is_a_state_error_without_the_password(
    postgres: PostgresServer,
) -> None:
    url = f"postgresql://sfa:s3cret@127.0.0.1:{postgres.port + 1}/nowhere"
    with pytest.raises(StateError, match="cannot open state") as caught:
        open_state(url, dry_run=True)
    assert "s3cret" not in str(caught.value) and "sfa:***@" in str(caught.value)


@pytest.mark.parametrize(("url", "shown"), [
    ("postgresql://127.0.0.1/sfa?user=bob&password=s3cret",
     "postgresql://127.0.0.1/sfa?user=bob&password=***"),
    ("postgresql://bob:s3cret@h/db?sslmode=require&PASSWORD=s3cret",
     "postgresql://bob:***@h/db?sslmode=require&PASSWORD=***"),
    ("postgres://h/db?mypassword=1", "postgres://h/db?mypassword=1"),  # not libpq's key
    ("postgresql://bob:p@ss@h:5432/db?sslpassword=k", "postgresql://bob:***@h:5432/db?sslpassword=***"),
    ("postgresql:///sfa?host=/run/postgresql", "postgresql:///sfa?host=/run/postgresql"),  # a socket
])
def test_a_password_is_masked_where_libpq_takes_one(url: str, shown: str) -> None:
    assert redact(url) == shown


def test_a_schema_of_something_else_is_a_state_error(postgres: PostgresServer) -> None:
    url = postgres.new_database()
    with psycopg.connect(url, autocommit=True) as db:
        db.execute("CREATE SCHEMA sfa; CREATE TABLE sfa.customers (x int)")
    for dry_run in (True, False):
        with pytest.raises(StateError, match="is not an sfa state"):
            PostgresStore(url, dry_run=dry_run)


def test_a_newer_schema_is_a_state_error(postgres: PostgresServer) -> None:
    url = postgres.new_database()
    PostgresStore(url, dry_run=False).close()
    with psycopg.connect(url, autocommit=True) as db:
        db.execute("UPDATE sfa.meta SET value = 99 WHERE key = 'schema_version'")
    with pytest.raises(StateError, match="schema version 99, newer"):
        PostgresStore(url, dry_run=True)


def test_a_second_apply_waits_then_fails_naming_the_holder(postgres: PostgresServer) -> None:
    url = postgres.new_database()
    with PostgresStore(url, dry_run=False):
        began = time.monotonic()
        with pytest.raises(StateError, match=r"in use by another run \(server pid \d+\); waited"):
            PostgresStore(url, dry_run=False, lock_timeout=0.5)
        assert time.monotonic() - began >= 0.5
        with PostgresStore(url, dry_run=True) as reader:  # dry runs never wait
            assert reader.rotations() == {}
    PostgresStore(url, dry_run=False, lock_timeout=0.5).close()  # released with its session


# the command line, end to end

_spec_path = CASES / "cli" / "gen_leads.py"


def _gen() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location("gen_leads", _spec_path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _apply_args(csv: Path, state: str, out: Path) -> list[str]:
    return ["apply", str(csv), "--state", state, "--out", str(out), "--as-of", AS_OF,
            "--config", str(REPO)]


def _show(state: str) -> dict[str, Any]:
    result = CliRunner().invoke(main, ["state", "show", "--state", state, "--format", "json",
                                       "--as-of", AS_OF, "--config", str(REPO)])
    assert result.exit_code == 0, result.stderr
    shown: dict[str, Any] = json.loads(result.stdout)
    return shown


@pytest.fixture(scope="module")
def leads(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("pg-leads")
    a, b = folder / "leads.a.csv", folder / "leads.b.csv"
    _gen().generate(str(a), 6000, seed=31, prefix="A")
    _gen().generate(str(b), 6000, seed=32, prefix="B")
    return a, b


def _sequential(postgres: PostgresServer, files: tuple[Path, ...], tmp_path: Path) -> Any:
    backend_state = postgres.new_database()
    for i, csv in enumerate(files):
        result = CliRunner().invoke(main, _apply_args(csv, backend_state, tmp_path / f"s{i}.jsonl"))
        assert result.exit_code == 1, result.stderr  # the generator writes rows without id
    return backend_state


def test_apply_dry_run_and_state_commands_take_a_url(
    postgres: PostgresServer, leads: tuple[Path, Path], tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    url = _sequential(postgres, leads[:1], tmp_path)
    again = CliRunner().invoke(main, _apply_args(leads[0], url, tmp_path / "again.jsonl"))
    assert again.exit_code == 1
    decisions = [json.loads(x) for x in (tmp_path / "again.jsonl").read_text().splitlines()]
    assert all(d["assigned_by"] == "known" for d in decisions if d["error"] is None)
    shown = _show(url)
    assert sum(shown["loads"].values()) > 0
    before = Backend("postgres", request).dump(url)
    dry = CliRunner().invoke(main, ["dry-run", str(leads[1]), "--state", url, "--as-of", AS_OF,
                                    "--config", str(REPO), "--format", "jsonl"])
    assert dry.exit_code == 1 and Backend("postgres", request).dump(url) == before
    assert "no state at" not in dry.stderr
    held = CliRunner().invoke(main, ["forecast", "--state", url, "--config", str(REPO),
                                     "--format", "json"])  # no FILES: what the state holds
    assert held.exit_code == 0, held.stderr
    assert json.loads(held.stdout)[-1]["group"] is None  # the totals row
    reset = CliRunner().invoke(main, ["state", "reset", "--territory", "us-east", "--state", url,
                                      "--config", str(REPO)])
    assert reset.exit_code == 0, reset.stderr
    assert "us-east" not in {r["territory"] for r in _show(url)["rotations"] if r["rotation"]}


def test_a_killed_apply_re_run_ends_as_a_clean_run(
    postgres: PostgresServer, leads: tuple[Path, Path], tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    backend = Backend("postgres", request)
    clean = _sequential(postgres, leads[:1], tmp_path)
    url, out = postgres.new_database(), tmp_path / "killed.jsonl"
    process = subprocess.Popen([*SFA, *_apply_args(leads[0], url, out)], cwd=REPO,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:  # kill after a commit
        with psycopg.connect(url) as db:
            found = db.execute("SELECT 1 FROM pg_namespace WHERE nspname = 'sfa'").fetchone()
            if found and db.execute("SELECT count(*) FROM sfa.journal").fetchone()[0]:
                break
        time.sleep(0.02)
    killed = process.poll() is None
    if killed:
        os.kill(process.pid, signal.SIGKILL)
    process.communicate(timeout=120)
    rerun = CliRunner().invoke(main, _apply_args(leads[0], url, out))
    assert rerun.exit_code == 1, rerun.stderr
    assert out.read_bytes() == (tmp_path / "s0.jsonl").read_bytes()
    assert backend.dump(url) == backend.dump(clean) and backend.dump(url)["journal"] == []
    if not killed:
        pytest.skip("the run finished before its first commit was seen")


def test_two_applies_at_once_end_as_one_after_the_other(
    postgres: PostgresServer, leads: tuple[Path, Path], tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    backend = Backend("postgres", request)
    url = postgres.new_database()
    outs = [tmp_path / "a.jsonl", tmp_path / "b.jsonl"]
    procs = [subprocess.Popen([*SFA, *_apply_args(csv, url, out)], cwd=REPO,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for csv, out in zip(leads, outs)]
    errs = [p.communicate(timeout=300)[1] for p in procs]
    assert [p.returncode for p in procs] == [1, 1], errs  # both ran (one waited)
    first = 0 if outs[0].stat().st_mtime_ns <= outs[1].stat().st_mtime_ns else 1
    order = (leads[first], leads[1 - first])
    reference = _sequential(postgres, order, tmp_path)
    assert backend.dump(url) == backend.dump(reference)
    assert _show(url) == _show(reference)
