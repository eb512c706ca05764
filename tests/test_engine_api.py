"""The library API of SPEC §11, and properties of whole runs over random streams.

``sfa_rules.load`` / ``ConfigError.problems``, ``Engine.decide``, ``Engine.session``
(lazy, commit or leave), ``Decision``, ``Engine.forecast``; importing the package has
no side effects. Hypothesis streams of leads and opportunities against the shipped
configuration: one decision per row in order, determinism, idempotent re-runs,
round-robin fairness.
"""

from __future__ import annotations

import ast
import datetime
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import REPO, WriteConfig
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sfa_rules
from sfa_rules import ConfigError, Decision
from sfa_rules.cli.main import main
from sfa_rules.forecast import to_json
from sfa_rules.lifecycle import durable as lifecycle_durable
from sfa_rules.state import MemoryStore, SQLiteStore

PROPERTY = settings(max_examples=30, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def engine() -> Iterator[sfa_rules.Engine]:
    with sfa_rules.load(REPO) as e:
        yield e


def lead(id: str, **fields: Any) -> dict[str, Any]:
    return {"type": "lead", "id": id, **fields}


# -- load and ConfigError -----------------------------------------------------------

BROKEN_CONFIGS = {
    "unknown-key": {"territories/reps.yaml": "reps:\n  - id: ana\n    activ: true\n"},
    "unknown-parent-and-rule": {
        "territories/t.yaml": (
            "reps: [{id: ana}]\n"
            "territories:\n"
            "  - {id: west, members: [{rep: ana}], rules: [wset]}\n"
            "  - {id: east, parent: wset, members: [{rep: ana}]}\n"
        ),
    },
    "yaml-syntax": {"rules/settings.yaml": "settings:\n  opportunities: [true\n"},
    "errors-and-warnings": {  # an unknown-field warning beside an error: both listed
        "territories/a.yaml": ("reps: [{id: ana}]\nterritories:\n"
                               "  - {id: west, members: [{rep: bo}], when: {contry: US}}\n"),
    },
    "duplicate-id": {
        "territories/a.yaml": "reps: [{id: ana}]\n",
        "territories/b.yaml": "reps: [{id: ana}]\n",
    },
}


@pytest.mark.parametrize("files", BROKEN_CONFIGS.values(), ids=BROKEN_CONFIGS.keys())
def test_config_error_problems_are_what_validate_prints(
    write_config: WriteConfig, files: Mapping[str, str]
) -> None:
    folder = write_config(files)
    with pytest.raises(ConfigError) as caught:
        sfa_rules.load(folder)
    validated = CliRunner().invoke(main, ["validate", "--config", str(folder), "--format", "json"])
    assert validated.exit_code == 1
    printed = json.loads(validated.stdout)
    assert printed  # every problem, not just the first
    assert [p.to_dict() for p in caught.value.problems] == printed
    assert str(caught.value).startswith(str(caught.value.problems[0]))


def test_load_the_shipped_configuration(engine: sfa_rules.Engine) -> None:
    assert engine.folder == REPO
    assert isinstance(engine, sfa_rules.Engine)


# -- decide -------------------------------------------------------------------------


def test_decide_remembers_nothing(engine: sfa_rules.Engine) -> None:
    record = lead("L-1", country="US", state="CA")
    first = engine.decide(record)
    # a weighted territory would give the second lead to luis.perez if it remembered
    assert [engine.decide(record) for _ in range(3)] == [first] * 3
    assert first.owner == "ana.gomez" and first.assigned_by == "territory:us-west"
    assert engine.decide(lead("L-2", country="US", state="CA")).owner == "ana.gomez"


def test_decide_from_many_threads_at_once(engine: sfa_rules.Engine) -> None:
    """``decide`` keeps its sessions between calls: each is used by one call at a time."""
    records = [lead(f"L-{i}", country="US", state=s) for i, s in enumerate(["CA", "NY", "TX"] * 50)]
    expected = [engine.decide(r) for r in records]
    with ThreadPoolExecutor(4) as pool:
        runs = [pool.submit(lambda: [engine.decide(r) for r in records]) for _ in range(8)]
        assert all(run.result() == expected for run in runs)


_VALUES = {
    "type": st.sampled_from(["lead", "lead", "prospect", "customer", "opportunity", "call"]),
    "email": st.sampled_from(["ana@acme.com", "bo@gmail.com", "x@www.Acme.COM", "", "nope"]),
    "company": st.sampled_from(["Acme Ltd", "ACME, Inc.", "Émile S.A.", ""]),
    "website": st.sampled_from(["https://www.acme.com/x", "acme.com", ""]),
    "country": st.sampled_from(["US", "CA", "MX", "BR", ""]),
    "state": st.sampled_from(["CA", "NY", "TX", "ON", ""]),
    "owner": st.sampled_from(["ana.gomez", "Ana Gomez", "nobody", ""]),
    "status": st.sampled_from(["", "LEAD-Qualified", "Proposal", "CUSTOMER-Won", "bogus"]),
    "customer": st.sampled_from(["C-1", ""]),
    "employees": st.sampled_from(["12", "5000", "many", ""]),
}


@PROPERTY
@given(st.fixed_dictionaries({"id": st.sampled_from(["L-1", "C-1", ""])},
                             optional=_VALUES))
def test_decide_is_a_session_of_one_row(engine: sfa_rules.Engine, record: dict[str, Any]) -> None:
    """``decide`` skips what only later rows could use (the matching keys, the history):
    its decision is the one a new session gives the same row."""
    with engine.session(explain=False) as session:
        alone = next(iter(session.process([record])))
    assert engine.decide(record) == alone


def test_decide_a_row_in_error(engine: sfa_rules.Engine) -> None:
    d = engine.decide({"type": "opportunity", "id": "O-1", "customer": "L-404",
                       "status": "Proposal"})
    assert d.error is not None and d.error["code"] == "unknown-customer"
    assert "L-404" in d.error["message"]
    assert engine.decide({"id": "X"}).error == {
        "code": "unknown-type", "message": "the record has no type", "field": "type"}


def test_decision_is_frozen_with_to_dict(engine: sfa_rules.Engine) -> None:
    d = engine.decide(lead("L-1", country="US", state="CA"))
    assert isinstance(d, Decision)
    with pytest.raises(AttributeError):  # immutable
        d.owner = "someone"  # type: ignore[misc]
    assert d.to_dict() == {
        "source": None, "row": 1, "type": "lead", "id": "L-1", "owner": "ana.gomez",
        "territory": "us-west", "assigned_by": "territory:us-west", "status": "LEAD-New",
        "stage": "lead", "probability": 0, "previous_status": None, "transition": None,
        "event": None, "warnings": [], "error": None,
    }
    assert json.loads(json.dumps(d.to_dict())) == d.to_dict()
    assert Decision.from_dict(d.to_dict()) == d


def test_a_decision_in_error_is_frozen_too(engine: sfa_rules.Engine) -> None:
    """Its error reads, compares, pickles and encodes as a dict, and cannot change;
    to_dict() gives copies that can."""
    import copy
    import pickle

    d = engine.decide({"type": "opportunity", "id": "O-1", "probability": "x"})
    assert d.error == {"code": "bad-probability", "message": "probability 'x' is not a number",
                       "field": "probability"}
    for change in (lambda e: e.__setitem__("code", "x"), lambda e: e.update(code="x"),
                   lambda e: e.pop("code"), lambda e: e.clear()):
        with pytest.raises(TypeError, match="a decision cannot be changed"):
            change(d.error)
    assert d.error["code"] == "bad-probability"
    copied = d.to_dict()
    copied["error"]["code"] = "changed"
    assert d.error["code"] == "bad-probability"
    assert pickle.loads(pickle.dumps(d)) == d == copy.deepcopy(d) == Decision.from_dict(d.to_dict())
    assert hash(d) == hash(Decision.from_dict(d.to_dict()))
    assert json.loads(d.to_json()) == d.to_dict()


# -- sessions -------------------------------------------------------------------------


@pytest.mark.parametrize("count", [999, 1000])
def test_a_large_configuration_is_frozen_until_closed(count: int, write_config: WriteConfig) -> None:
    """From 1,000 territories (and overrides) ``load`` freezes the heap, so the garbage
    collector no longer walks the compiled configuration; ``close`` unfreezes it."""
    import gc

    territories = "".join(f"  - {{id: t{i}, when: {{zip: {{prefix: '{i:03d}'}}}}, "
                          f"members: [{{rep: ana}}]}}\n" for i in range(count))
    folder = write_config({"territories/t.yaml": f"reps: [{{id: ana}}]\nterritories:\n{territories}"})
    shutil.copytree(REPO / "rules", folder / "rules")
    (folder / "rules" / "assignment.yaml").unlink()  # names the shipped reps
    gc.unfreeze()
    with sfa_rules.load(folder, lifecycle_engine="native") as engine:
        assert (gc.get_freeze_count() > 0) == (count >= 1000)
        assert engine.decide({"type": "lead", "id": "L", "zip": "00712"}).territory == "t7"
    assert gc.get_freeze_count() == 0


def test_session_is_lazy_over_an_endless_stream(engine: sfa_rules.Engine) -> None:
    pulled = 0

    def endless() -> Iterator[dict[str, Any]]:
        nonlocal pulled
        for i in itertools.count(1):
            pulled += 1
            yield lead(f"L-{i}", country="US", state="NY", created="2026-03-01")

    with engine.session(state=None) as session:
        first = list(itertools.islice(session.process(endless()), 6))
    assert [d.id for d in first] == [f"L-{i}" for i in range(1, 7)]
    assert [d.owner for d in first] == ["john.smith", "emily.chen"] * 3  # round robin
    assert pulled <= 7


def test_each_in_memory_session_starts_empty(engine: sfa_rules.Engine) -> None:
    rows = [lead("L-1", country="US", state="NY"), lead("L-2", country="US", state="NY")]
    runs = []
    for _ in range(2):
        with engine.session(state=None) as session:
            runs.append([d.owner for d in session.process(rows)])
            session.commit()
    assert runs[0] == runs[1] == ["john.smith", "emily.chen"]


def test_closing_a_session_undoes_only_what_another_reads(engine: sfa_rules.Engine) -> None:
    # A store the caller passed in is theirs: closing undoes the uncommitted rows and
    # keeps the committed ones. A session's own store is dropped whole, not undone.
    mine = MemoryStore()
    with engine.session(state=mine) as session:
        list(session.process([lead("L-1", country="US", state="NY")]))
        session.commit()
        list(session.process([lead("L-2", country="US", state="NY")]))
    assert mine.get_customer("L-1") is not None and mine.get_customer("L-2") is None
    with engine.session() as session:
        list(session.process([lead("L-3", country="US", state="NY")]))
        session.commit()
        own = session.store
    assert own.get_customer("L-3") is None and own.rotations() == {}


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_commit_writes_the_state(tmp_path: Path, engine: sfa_rules.Engine) -> None:
    state = tmp_path / "s.db"
    with engine.session(state=state) as session:
        owners = [d.owner for d in session.process([lead("L-1", country="US", state="NY")])]
        session.commit()
    assert owners == ["john.smith"]
    with engine.session(state=state) as session:
        (d,) = session.process([lead("L-1", country="US", state="NY")])
    assert (d.owner, d.assigned_by) == ("john.smith", "known")


def _leave_without_commit(engine: sfa_rules.Engine, state: Path) -> list[Decision]:
    with engine.session(state=state) as session:
        list(session.process([lead("L-0", country="US", state="NY")]))
        session.commit()
    with engine.session(state=state) as session:
        return list(session.process([lead(f"L-{i}", country="US", state="NY")
                                     for i in range(1, 50)]))


def test_leaving_without_commit_keeps_the_state_as_it_was(
    tmp_path: Path, engine: sfa_rules.Engine
) -> None:
    state = tmp_path / "s.db"
    assert len(_leave_without_commit(engine, state)) == 49
    with SQLiteStore(state, dry_run=True) as store:
        assert store.get_customer("L-1") is None and store.get_customer("L-0") is not None
        assert store.loads() == {"john.smith": 1}


def test_leaving_without_commit_leaves_the_state_byte_identical(
    tmp_path: Path, engine: sfa_rules.Engine
) -> None:
    state = tmp_path / "s.db"
    with engine.session(state=state) as session:
        list(session.process([lead("L-0", country="US", state="NY")]))
        session.commit()
    before = _snapshot(tmp_path)
    with engine.session(state=state) as session:
        list(session.process([lead("L-1", country="US", state="NY")]))
    assert _snapshot(tmp_path) == before


def test_leaving_without_commit_creates_no_state_file(
    tmp_path: Path, engine: sfa_rules.Engine
) -> None:
    with engine.session(state=tmp_path / "new.db") as session:
        list(session.process([lead("L-1", country="US", state="NY")]))
    assert list(tmp_path.iterdir()) == []


def test_a_dry_run_session_over_a_missing_state_creates_nothing(
    tmp_path: Path, engine: sfa_rules.Engine
) -> None:
    with engine.session(state=tmp_path / "new.db", dry_run=True) as session:
        list(session.process([lead("L-1", country="US", state="NY")]))
        session.commit()
    assert list(tmp_path.iterdir()) == []


def test_a_dry_run_session_over_a_state_writes_nothing_even_when_committed(
    tmp_path: Path, engine: sfa_rules.Engine
) -> None:
    state = tmp_path / "s.db"
    with engine.session(state=state) as session:
        list(session.process([lead("L-0", country="US", state="NY")]))
        session.commit()
    before = _snapshot(tmp_path)
    with engine.session(state=state, dry_run=True) as session:
        decided = list(session.process([lead("L-0", country="US", state="NY"),
                                        lead("L-1", country="US", state="NY")]))
        session.commit()
    assert [(d.owner, d.assigned_by) for d in decided] == [
        ("john.smith", "known"), ("emily.chen", "territory:us-east")]
    assert _snapshot(tmp_path) == before


@pytest.mark.parametrize("dry_run, lines", [(False, ["status", "assignment"]), (True, [])])
def test_only_a_session_that_can_commit_writes_history_lines(
    tmp_path: Path, engine: sfa_rules.Engine, dry_run: bool, lines: list[str]
) -> None:
    # a dry run's store is never committed and nothing in a run reads history back
    with engine.session(state=tmp_path / "s.db", dry_run=dry_run) as session:
        decided = list(session.process([lead("L-1", country="US", state="NY")]))
        assert [e.kind for e in session.store.history_of("L-1")] == lines
    assert decided[0].owner == "john.smith"  # decided the same either way


# -- forecast ------------------------------------------------------------------------


def test_forecast_of_records(engine: sfa_rules.Engine) -> None:
    rows = [
        lead("L-1", country="US", state="CA"),
        lead("L-2", country="US", state="NY"),
        {"type": "opportunity", "id": "O-1", "customer": "L-1", "status": "Proposal",
         "amount": "1,000", "expected_close": "2027-02-10"},
        {"type": "opportunity", "id": "O-2", "customer": "L-2", "status": "Closed Won",
         "amount": "500", "expected_close": "2027-05-01"},
        {"type": "opportunity", "id": "O-3", "customer": "L-2", "status": "Closed Lost",
         "amount": "900", "expected_close": "2027-05-01"},
    ]
    report = engine.forecast(rows, by="owner", period="quarter")
    assert (report.by, report.period) == ("owner", "quarter")
    assert to_json(report) == [
        {"group": "ana.gomez", "period": "2027-Q1", "count": 1, "amount": 1000,
         "weighted_amount": 500, "closed": 0, "commit": 0, "best_case": 500, "pipeline": 500},
        {"group": "john.smith", "period": "2027-Q2", "count": 1, "amount": 500,
         "weighted_amount": 500, "closed": 500, "commit": 500, "best_case": 500,
         "pipeline": 500},
        {"group": None, "period": None, "count": 2, "amount": 1500, "weighted_amount": 1000,
         "closed": 500, "commit": 500, "best_case": 1000, "pipeline": 1000},
    ]
    by_category = engine.forecast(rows, by="category", period="year")
    assert [(r["group"], r["period"]) for r in to_json(by_category)] == \
        [("best_case", "2027"), ("closed", "2027"), (None, None)]  # sorted by group


# -- importing has no side effects -----------------------------------------------------

IMPORT_CHECK = """
import os, sys, threading
before = sorted(os.listdir("."))
import sfa_rules
from sfa_rules.lifecycle import durable as lifecycle_durable
registered = []
threads = [threading.active_count()]
if lifecycle_durable.available():
    from durable import lang
    registered.append(sorted(lang._rulesets))
    engine = sfa_rules.load(sys.argv[1], lifecycle_engine="durable")
    engine.decide({"type": "lead", "id": "L-1", "country": "US", "state": "CA"})
    threads.append(threading.active_count())  # no durable-rules timer threads
    engine.close()
    registered.append(sorted(lang._rulesets))
sys.stderr.write(repr((sorted(os.listdir(".")) == before, registered, threads)))
"""


def test_import_has_no_side_effects(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    done = subprocess.run([sys.executable, "-c", IMPORT_CHECK, str(REPO)], cwd=tmp_path,
                          capture_output=True, text=True, env=env, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert list(tmp_path.iterdir()) == []
    unchanged, registered, threads = ast.literal_eval(done.stderr)
    assert unchanged
    assert all(names == [] for names in registered)
    assert set(threads) == {1}



def test_the_readers_readme_names_come_with_the_package(tmp_path: Path) -> None:
    """README's embedding: `sfa_rules.records.read(paths)` and
    `sfa_rules.records.imports.Imports.of(engine)` after a plain `import sfa_rules`."""
    leads = tmp_path / "leads.csv"
    leads.write_text("id,country\nL-1,US\n", encoding="utf-8")
    code = ("import sys, sfa_rules; e = sfa_rules.load(sys.argv[1]); "
            "rows = list(sfa_rules.records.imports.Imports.of(e).read([sys.argv[2]])); "
            "print(len(list(sfa_rules.records.read([sys.argv[2]]))), len(rows))")
    done = subprocess.run([sys.executable, "-c", code, str(REPO), str(leads)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert (done.returncode, done.stdout) == (0, "1 1\n"), done.stderr


# -- properties over random streams -----------------------------------------------------

PLACES = [("US", "CA"), ("US", "NY"), ("us", " ma "), ("US", "TX"), ("CA", "ON"),
          ("MX", ""), ("DE", ""), ("", "")]
OPPORTUNITY_STATUSES = ["Identified Opportunity", "In Discussion", "Proposal",
                        "In Negotiation", "Purchasing", "Closed Won", "Closed Lost",
                        "Proposl"]
DATES = ["2026-03-01", "2026-12-24", "2027-02-01", ""]
CUSTOMER_STATUSES = ["", "", "", "LEAD-Qualified", "LEAD-Dead", "PROSPECT-Proposal",
                     "CUSTOMER-Closed Won", "LEAD-Nw"]

lead_rows = st.builds(
    lambda n, place, created, employees, industry, owner, status: {
        "kind": "lead", "n": n, "country": place[0], "state": place[1], "created": created,
        "employees": employees, "industry": industry, "owner": owner, "status": status},
    st.integers(0, 7), st.sampled_from(PLACES), st.sampled_from(DATES),
    st.sampled_from(["", "50", "5000", "n/a"]), st.sampled_from(["", "Banking", "Retail"]),
    st.sampled_from(["", "", "", "someone.else"]), st.sampled_from(CUSTOMER_STATUSES),
)
opportunity_rows = st.builds(
    lambda oid, pick, status, amount, known: {
        "kind": "opportunity", "oid": oid, "pick": pick, "status": status, "amount": amount,
        "known": known},
    st.integers(0, 4), st.integers(0, 100), st.sampled_from(OPPORTUNITY_STATUSES),
    st.sampled_from(["", "1000", "2,500.50", "abc"]), st.booleans(),
)
status_rows = st.builds(
    lambda pick, status: {"kind": "status_change", "pick": pick, "status": status},
    st.integers(0, 100), st.sampled_from(CUSTOMER_STATUSES[1:]),
)
broken_rows = st.sampled_from([{"kind": "no-id"}, {"kind": "no-type"}])
streams = st.lists(
    st.one_of(lead_rows, lead_rows, opportunity_rows, opportunity_rows, status_rows,
              broken_rows),
    min_size=1, max_size=25)


def build(stream: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records from a drawn stream: leads (some naming a status: a manual change when
    the lead is known), opportunities (ids repeat: an opportunity's history), status
    changes, rows in error. Transactions name a lead decided EARLIER in the stream (or
    one that never exists): a row that fails the first time only because its customer
    comes later would rightly succeed on a re-run. An opportunity keeps the customer
    of its first row."""
    rows: list[dict[str, Any]] = []
    leads: list[str] = []
    customer_of: dict[str, str] = {}
    for i, item in enumerate(stream):
        kind = item["kind"]
        if kind == "lead":
            lid = f"L-{item['n']}"
            leads.append(lid)
            rows.append({"type": "lead", "id": lid, **{
                k: item[k] for k in ("country", "state", "created", "employees", "industry",
                                     "owner", "status")}})
        elif kind == "opportunity":
            oid = f"O-{item['oid']}"
            customer = leads[item["pick"] % len(leads)] if leads and item["known"] else "L-404"
            customer = customer_of.setdefault(oid, customer)
            rows.append({"type": "opportunity", "id": oid, "customer": customer,
                         "status": item["status"], "amount": item["amount"],
                         "expected_close": "2027-03-01"})
        elif kind == "status_change":
            customer = leads[item["pick"] % len(leads)] if leads else "L-404"
            rows.append({"type": "status_change", "customer": customer,
                         "status": item["status"]})
        elif kind == "no-id":
            rows.append({"type": "lead", "id": " ", "country": "US"})
        else:
            rows.append({"id": f"X-{i}"})
    return rows


def decide_all(engine: sfa_rules.Engine, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    with engine.session(state=None) as session:
        return [d.to_dict() for d in session.process(rows)]


@PROPERTY
@given(streams)
def test_one_decision_per_row_in_order(engine: sfa_rules.Engine, stream: list[dict[str, Any]]) -> None:
    rows = build(stream)
    decided = decide_all(engine, rows)
    assert [d["row"] for d in decided] == list(range(1, len(rows) + 1))
    assert [d["id"] for d in decided] == [
        (r["id"].strip() or None) if isinstance(r.get("id"), str) else None for r in rows]
    for row, d in zip(rows, decided, strict=True):
        assert d["type"] == row.get("type")
        if d["error"] is not None:
            assert set(d["error"]) == {"code", "message", "field"}
            assert d["owner"] is None or d["type"] != "lead"


@PROPERTY
@given(streams)
def test_two_sessions_decide_the_same(engine: sfa_rules.Engine, stream: list[dict[str, Any]]) -> None:
    rows = build(stream)
    assert decide_all(engine, rows) == decide_all(engine, rows)


def _counters(path: Path) -> tuple[dict[str, Any], dict[str, int], list[Any]]:
    with SQLiteStore(path, dry_run=True) as store:
        customers = sorted(
            (c.id, c.status, c.owner, c.territory)
            for c in (store.get_customer(f"L-{n}") for n in range(8)) if c is not None)
        return store.rotations(), store.loads(), customers


@PROPERTY
@given(streams)
def test_re_running_a_committed_stream_changes_nothing(
    engine: sfa_rules.Engine, stream: list[dict[str, Any]]
) -> None:
    rows = build(stream)
    with tempfile.TemporaryDirectory() as folder:
        state = Path(folder) / "s.db"
        with engine.session(state=state) as session:
            first = [d.to_dict() for d in session.process(rows)]
            session.commit()
        if any((d["error"] or {}).get("code") == "unknown-customer" for d in first):
            # A row whose customer came later in the stream was an error and changed
            # nothing; a re-run finds the customer and applies it, as the user fixing the
            # order expects. Idempotency is about the run after that one.
            with engine.session(state=state) as session:
                first = [d.to_dict() for d in session.process(rows)]
                session.commit()
        before = _counters(state)
        with engine.session(state=state) as session:
            again = [d.to_dict() for d in session.process(rows)]
            session.commit()
        assert _counters(state) == before
    for a, b in zip(first, again, strict=True):
        assert b["transition"] is None, (a, b)
        if b["error"] is not None:
            assert a["error"] == b["error"]
            continue
        # (a status in a re-run decision is the record's status as it stands now)
        assert (b["owner"], b["territory"], b["event"]) == (a["owner"], a["territory"], None)
        if b["type"] == "lead":
            assert b["assigned_by"] == "known"


FAIR = {"us-east": ("US", "NY", ["john.smith", "emily.chen"]),
        "canada": ("CA", "ON", ["emily.chen", "john.smith"])}


@PROPERTY
@given(st.sampled_from(sorted(FAIR)), st.integers(1, 40),
       st.lists(st.sampled_from(PLACES), max_size=15), st.randoms(use_true_random=False))
def test_round_robin_is_fair(
    engine: sfa_rules.Engine, territory: str, n: int, noise: list[tuple[str, str]], rnd: Any
) -> None:
    country, state, members = FAIR[territory]
    rows = [lead(f"T-{i}", country=country, state=state, created="2026-03-01")
            for i in range(n)]
    for j, (c, s) in enumerate(noise):  # leads of other territories, anywhere in between
        other = lead(f"N-{j}", country=c, state=s)
        if engine.decide(other).territory != territory:
            rows.insert(rnd.randrange(len(rows) + 1), other)
    decided = decide_all(engine, rows)
    got = Counter(d["owner"] for d in decided if d["id"].startswith("T-"))
    assert all(d["territory"] == territory for d in decided if d["id"].startswith("T-"))
    assert set(got) <= set(members)
    assert sorted(got[m] for m in members) == sorted([n // 2, n - n // 2])
    assert next(d["owner"] for d in decided if d["id"].startswith("T-")) == members[0]


@PROPERTY
@given(st.integers(1, 40))
def test_weighted_and_least_loaded_shares(engine: sfa_rules.Engine, n: int) -> None:
    # us-west: smooth weighted 2:1 (a, b, a, a, b, a, ...): ana.gomez holds the floor or
    # ceiling of 2n/3 after every pick; us-other: least loaded, ties to declared order
    west = decide_all(engine, [lead(f"W-{i}", country="US", state="CA", created="2026-03-01")
                               for i in range(n)])
    ana = sum(d["owner"] == "ana.gomez" for d in west)
    assert ana in ((2 * n) // 3, -(-2 * n // 3))
    assert {d["owner"] for d in west} <= {"ana.gomez", "luis.perez"}
    other = decide_all(engine, [lead(f"U-{i}", country="US", state="TX", created="2026-03-01")
                                for i in range(n)])
    assert [d["owner"] for d in other] == (["luis.perez", "john.smith"] * n)[:n]


@PROPERTY
@given(st.integers(1, 12))
def test_capacity_overflows_to_the_default_territory(engine: sfa_rules.Engine, n: int) -> None:
    # latam: pedro.silva inactive, maria.rojas at most 4 open records
    decided = decide_all(engine, [lead(f"M-{i}", country="MX", created="2026-03-01")
                                  for i in range(n)])
    assert [(d["owner"], d["territory"]) for d in decided] == (
        [("maria.rojas", "latam")] * min(n, 4)
        + [("sales.manager", "unassigned-pool")] * max(n - 4, 0))


@pytest.fixture(scope="module")
def engines() -> Iterator[tuple[sfa_rules.Engine, sfa_rules.Engine]]:
    if not lifecycle_durable.available():
        pytest.skip("durable-rules cannot be imported here")
    with sfa_rules.load(REPO, lifecycle_engine="durable") as durable, \
            sfa_rules.load(REPO, lifecycle_engine="native") as native:
        yield durable, native


@PROPERTY
@given(streams)
def test_durable_and_native_lifecycles_decide_the_same(
    engines: tuple[sfa_rules.Engine, sfa_rules.Engine], stream: list[dict[str, Any]]
) -> None:
    durable, native = engines
    assert durable.lifecycle_engine == "durable" and native.lifecycle_engine == "native"
    rows = build(stream)
    assert decide_all(durable, rows) == decide_all(native, rows)


def test_re_running_an_opportunity_history_fires_nothing(
    tmp_path: Path, engine: sfa_rules.Engine
) -> None:
    rows = [lead("L-1", country="US", state="CA"),
            {"type": "opportunity", "id": "O-1", "customer": "L-1", "status": "Proposal"},
            {"type": "opportunity", "id": "O-1", "customer": "L-1", "status": "In Negotiation"}]
    for run in range(2):
        with engine.session(state=tmp_path / "s.db") as session:
            decided = list(session.process(rows))
            session.commit()
        if run == 1:
            assert [d.transition for d in decided] == [None, None, None]


# Three exports on three days: a change, another, then back to the first value. The
# third row is new information (SPEC §6, §8: a changed status is an update / a manual
# change), even though a row with the same values was applied on day one.
LEAD_CA = {"type": "lead", "id": "L-1", "country": "US", "state": "CA"}
BACK_AND_FORTH = {
    "opportunity": (
        [LEAD_CA, {"type": "opportunity", "id": "O-1", "customer": "L-1", "status": "Proposal"}],
        [{"type": "opportunity", "id": "O-1", "customer": "L-1", "status": "In Negotiation"}],
        {"type": "opportunity", "id": "O-1", "customer": "L-1", "status": "Proposal"},
        {"status": "Proposal", "customer_status": "PROSPECT-Proposal",
         "event": "opportunity.updated", "transition": "prospect-follows-opportunity"},
    ),
    "status_change": (
        [LEAD_CA, {"type": "status_change", "customer": "L-1", "status": "LEAD-Qualified"}],
        [{"type": "status_change", "customer": "L-1", "status": "LEAD-Dead"}],
        {"type": "status_change", "customer": "L-1", "status": "LEAD-Qualified"},
        {"status": "LEAD-Qualified", "customer_status": "LEAD-Qualified", "transition": "manual"},
    ),
    # (day three's input must differ from day one's up to that row: an identical input
    # is day one's input applied again, a replay that changes nothing, SPEC §9)
    "lead-with-status": (
        [{**LEAD_CA, "id": "L-2"}, {**LEAD_CA, "status": "LEAD-Qualified"}],
        [{**LEAD_CA, "status": "LEAD-Dead"}],
        {**LEAD_CA, "status": "LEAD-Qualified"},
        {"status": "LEAD-Qualified", "previous_status": "LEAD-Dead", "transition": "manual"},
    ),
}


@pytest.mark.parametrize(("day1", "day2", "day3", "expected"), BACK_AND_FORTH.values(),
                         ids=BACK_AND_FORTH.keys())
def test_a_status_back_to_an_earlier_value_is_a_change(
    tmp_path: Path, engine: sfa_rules.Engine, day1: list[dict[str, Any]],
    day2: list[dict[str, Any]], day3: dict[str, Any], expected: dict[str, Any],
) -> None:
    state = tmp_path / "s.db"
    for rows in (day1, day2, [day3]):
        with engine.session(state=state) as session:
            decided = list(session.process(rows))
            session.commit()
    got = decided[-1].to_dict()
    assert {k: got[k] for k in expected} == expected


# A library stream's rows are known by the rows so far (SPEC §9 idempotency), so a
# one-row session identical to an earlier one is that input applied again: it changes
# nothing and says so. A feed tells its messages apart with an id or a timestamp.
def test_one_row_sessions_of_a_feed_each_apply_their_change(
    tmp_path: Path, engine: sfa_rules.Engine
) -> None:
    state = tmp_path / "s.db"
    with engine.session(state=state) as session:
        list(session.process([LEAD_CA]))
        session.commit()
    got = []
    for n, status in enumerate(("LEAD-Qualified", "LEAD-Dead", "LEAD-Qualified", "LEAD-Qualified")):
        message = {"type": "status_change", "customer": "L-1", "status": status}
        if n < 3:
            message["message_id"] = f"M-{n}"
        with engine.session(state=state) as session:
            (d,) = session.process([message])
            session.commit()
        got.append((d.status, d.transition, [w.split(":")[0] for w in d.warnings]))
    assert got == [("LEAD-Qualified", "manual", []), ("LEAD-Dead", "manual", []),
                   ("LEAD-Qualified", "manual", []),
                   ("LEAD-Qualified", None, [])]
    with engine.session(state=state) as session:  # the first message again: a replay
        (d,) = session.process([{"type": "status_change", "customer": "L-1",
                                 "status": "LEAD-Qualified", "message_id": "M-0"}])
    assert (d.transition, [w.split(":")[0] for w in d.warnings]) == (None, ["already-applied"])


@pytest.mark.parametrize(("columns", "territory"), [
    ({"Country": "US", "Billing Country": "CA"}, "us-other"),
    ({"Billing Country": "CA", "Country": "US"}, "canada"),
    ({"Country": " ", "Billing Country": "CA"}, "canada"),  # a blank one names nothing
    ({"country": "CA", "COUNTRY": "US"}, "canada"),
])
def test_two_columns_of_one_field_give_it_the_first_non_empty(
        columns: dict[str, str], territory: str) -> None:
    """As the README says: in the file's column order (aliases of settings.fields)."""
    decision = sfa_rules.load(REPO).decide({"type": "lead", "id": "L-1", **columns})
    assert decision.territory == territory


@pytest.mark.parametrize(("record", "shown"), [
    (None, "None"), ("lead", "a str: 'lead'"), (5, "a int: 5"),
    ([("type", "lead"), ("id", "L-1")], "a list: [('type', 'lead'), ('id', 'L-1')]"),
])
def test_a_record_that_is_not_a_mapping_is_a_row_error(
        engine: sfa_rules.Engine, record: Any, shown: str) -> None:
    """A pipeline's None or a stray string is one row in error; the others are decided."""
    message = f"a record must be a mapping of field names to values (a dict), not {shown}"
    assert engine.decide(record).error == {"code": "bad-record", "message": message,
                                           "field": None}
    with engine.session() as session:
        decisions = list(session.process([lead("L-1"), record, lead("L-2")]))
    assert [(d.row, d.id, d.error and d.error["code"]) for d in decisions] == [
        (1, "L-1", None), (2, None, "bad-record"), (3, "L-2", None)]
    assert [i.code for i in engine.forecast([record]).errors] == ["bad-record"]


def test_a_state_of_the_wrong_kind_is_refused_at_once(engine: sfa_rules.Engine) -> None:
    with pytest.raises(TypeError, match="state must be None, a state file path, a "
                       "postgresql:// URL or a Store, not int"):
        engine.session(state=123)  # type: ignore[arg-type]


def test_a_state_that_cannot_be_created_is_refused_before_any_row(
        engine: sfa_rules.Engine, tmp_path: Path) -> None:
    """Not at the commit after the last row: a run of a million rows would be lost."""
    from sfa_rules.state import StateError

    path = tmp_path / "missing" / "st.db"
    with pytest.raises(StateError, match=f"cannot create state {path}: the folder "
                       f"{path.parent} does not exist"):
        engine.session(state=path)
    result = CliRunner().invoke(main, ["apply", str(REPO / "examples" / "leads.csv"),
                                       "--state", str(path), "--format", "jsonl"])
    assert (result.exit_code, result.stdout) == (2, "")
    with engine.session(state=path, dry_run=True) as session:  # a dry run creates nothing
        assert session.process([lead("L-1")])


def test_a_resumed_run_knows_its_rows_as_an_uninterrupted_one(
    engine: sfa_rules.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run stopped after a committed batch and re-run on the same rows replays that
    batch; the rows after it are known by the same places as in a run never stopped,
    so that applying the rows once more is already-applied throughout (SPEC §9)."""
    from sfa_rules.engine import session as session_module

    monkeypatch.setattr(session_module, "BATCH_ROWS", 3)
    rows = [{"type": "lead", "id": f"L-{i}", "country": "US", "state": "CA"} for i in range(4)]
    rows += [{"type": "status_change", "customer": f"L-{i}", "status": "LEAD-Qualified"}
             for i in range(4)]

    def run(state: Path, stop: int | None = None) -> list[Decision]:
        with engine.session(state=state) as session:
            session.resumable("the-run")
            out = []
            for d in session.process(rows):
                out.append(d)
                if len(out) == stop:
                    return out  # stopped: the batch after the last commit is lost
            session.commit()
            return out

    clean, stopped = tmp_path / "clean.db", tmp_path / "stopped.db"
    expected = run(clean)
    run(stopped, stop=5)  # rows 1-3 committed with their journal, 4-5 lost
    assert run(stopped) == expected
    again = [d for d in run(stopped) if d.type == "status_change"]
    assert [w.split(":")[0] for d in again for w in d.warnings] == ["already-applied"] * 4


def test_a_decisions_trace_is_its_own(engine: sfa_rules.Engine) -> None:
    """Decisions are immutable values: changing what ``to_dict()`` gave, its trace
    included, changes neither the decision nor the next one (SPEC §11)."""
    record = lead("L-1", country="US", state="NY", industry="Retail")
    with engine.session(explain=True) as session:
        first = next(iter(session.process([record])))
    given = first.to_dict()
    for step in given["trace"]:
        why = step.get("why")
        for failed in why if isinstance(why, list) else ():
            if isinstance(failed, dict) and isinstance(failed.get("expected"), list):
                failed["expected"].append("changed")  # an `in`'s values
    assert first.to_dict() != given
    with engine.session(explain=True) as session:
        again = next(iter(session.process([record])))
    assert "changed" not in json.dumps(again.to_dict()) and again == first


def test_a_closed_engine_decides_nothing_more() -> None:
    """After close() (or its `with` block) the durable-rules ruleset is gone: a clear
    error, not decisions without transitions."""
    with sfa_rules.load(REPO) as engine:
        assert engine.decide(lead("L-1")).status == "LEAD-New"
    with pytest.raises(RuntimeError, match="this engine is closed"):
        engine.decide(lead("L-1"))
    with pytest.raises(RuntimeError, match="this engine is closed"):
        engine.session()


@pytest.mark.parametrize(("as_of", "day"), [
    ("2026-03-02", "2026-03-02"),
    (datetime.date(2026, 3, 2), "2026-03-02"),
    (datetime.datetime(2026, 3, 2, 15, 30), "2026-03-02"),  # its day, not its isoformat
    ("20260302", "2026-03-02"),
])
def test_a_session_date_is_a_day(engine: sfa_rules.Engine, as_of: Any, day: str) -> None:
    with engine.session(as_of=as_of) as session:
        assert session.as_of == day
        [decision] = session.process([{"type": "lead", "id": "L-1", "country": "US"}])
        assert decision.error is None


@pytest.mark.parametrize("as_of", ["garbage", "2026-13-01", "", 20260302])
def test_a_session_date_that_is_not_one_is_refused(engine: sfa_rules.Engine,
                                                    as_of: Any) -> None:
    with pytest.raises(ValueError, match="as_of must be a date"):
        engine.session(as_of=as_of)


def test_a_bad_session_date_leaves_the_state_file_free(engine: sfa_rules.Engine,
                                                       tmp_path: Path) -> None:
    state = tmp_path / "s.db"
    with pytest.raises(ValueError):
        engine.session(str(state), as_of="garbage")
    with engine.session(str(state), as_of="2026-03-02") as session:  # not locked
        list(session.process([{"type": "lead", "id": "L-1", "country": "US"}]))
        session.commit()


def test_a_bad_run_date_opens_nothing(tmp_path: Path) -> None:
    """The library's apply refuses the date before it takes the state's lock: the next
    run is not left waiting for a lock nobody holds."""
    from sfa_rules.api import RunRequest, run_decisions

    leads = tmp_path / "leads.csv"
    leads.write_text("id,country\nL-1,US\n", encoding="utf-8")
    state = str(tmp_path / "s.db")
    request = RunRequest(files=(str(leads),), config=REPO, state=state, apply=True,
                         out=str(tmp_path / "out.jsonl"))
    with pytest.raises(ValueError, match="as_of must be a date"):
        run_decisions(RunRequest(**{**request.__dict__, "as_of": "2026-03-02T10:00"}))
    assert run_decisions(request).rows == 1
