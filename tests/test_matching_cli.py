"""Account matching and duplicates through the command line (SPEC §19): the shipped
configuration over the examples, explain, CSV, diff, and apply (idempotent, dry runs
write nothing)."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path

from test_cli import CONFIG, EXAMPLES, copy_config, sfa, write

MATCHED = {  # the leads of examples/leads.csv that the shipped matching routes
    "L-1041": ("emily.chen", "us-east", "C-9001"),  # jane.doe@globex.example: website
    "L-1042": ("carla.diaz", "unassigned-pool", "C-9002"),  # INITECH.example: e-mail domain
    "L-1043": ("luis.perez", "canada", "C-9003"),  # gmail.com, but the company folds equal
}


def test_the_examples_match_three_leads_to_accounts_and_flag_one_duplicate() -> None:
    r = sfa("dry-run", *EXAMPLES, *CONFIG)
    assert r.code == 0, r.err
    leads = {d["id"]: d for d in r.jsonl() if d["type"] == "lead"}
    for lead, (owner, territory, account) in MATCHED.items():
        d = leads[lead]
        assert (d["owner"], d["territory"], d["assigned_by"], d["account"]) == \
            (owner, territory, f"account:{account}", account)
    assert leads["L-1044"]["warnings"] == ["duplicate-of:L-1001"]
    assert leads["L-1044"]["assigned_by"] == "territory:us-west"
    assert all("account" not in d for i, d in leads.items() if i not in MATCHED)
    assert "assigned how: territory 38, kept 4, account 3, override 2" in r.err


def test_explain_shows_the_key_that_matched() -> None:
    r = sfa("explain", *EXAMPLES, "--id", "L-1043", *CONFIG)
    assert r.code == 0
    step = json.loads(r.out)[0]["trace"][0]
    assert step == {"step": "account", "matched": True, "key": "company",
                    "value": "societegeneraledenergie", "customer": "C-9003",
                    "owner": "luis.perez", "territory": "canada", "others": []}


def test_csv_has_the_account_column() -> None:
    r = sfa("dry-run", *EXAMPLES, "--format", "csv", *CONFIG)
    rows = {row["id"]: row for row in csv.DictReader(io.StringIO(r.out, newline=""))}
    assert rows["L-1041"]["account"] == "C-9001" and rows["L-1041"]["merged_from"] == ""
    assert rows["L-1001"]["account"] == ""


def test_diff_shows_the_moves_matching_causes(tmp_path: Path) -> None:
    base = copy_config(tmp_path / "base")
    (base / "rules" / "matching.yaml").unlink()
    r = sfa("diff", *EXAMPLES, "--base", str(base), "--config", str(CONFIG[1]),
            "--exit-code")
    assert r.code == 1
    changed = {d["id"]: d for d in r.jsonl()}
    assert set(changed) == set(MATCHED)
    for lead, (owner, territory, _) in MATCHED.items():
        assert (changed[lead]["after"]["owner"], changed[lead]["after"]["territory"]) == \
            (owner, territory)
    summary = r.err.splitlines()
    assert summary[0] == "76 rows, 3 changed"
    moves = [line for line in summary[1:] if line.startswith("owner ")]
    assert sorted(line.split(" -> ")[1] for line in moves) == \
        ["carla.diaz: 1", "emily.chen: 1", "luis.perez: 1"]


def _tables(state: Path) -> tuple[list[tuple[object, ...]], ...]:
    db = sqlite3.connect(state)
    try:
        return tuple(db.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall()
                     for t in ("match_records", "match_keys", "customers", "loads"))
    finally:
        db.close()


def test_apply_indexes_the_keys_and_applying_again_changes_nothing(tmp_path: Path) -> None:
    state = tmp_path / "s.db"
    first = sfa("apply", *EXAMPLES, "--state", str(state), *CONFIG)
    assert first.code == 0, first.err
    records, keys, *_ = before = _tables(state)
    assert ("a:domain:globex.example", "C-9001") in keys
    assert ("d:email:info@acme-robotics.example", "L-1044") in keys
    assert len(records) == 3 + 44
    again = sfa("apply", *EXAMPLES, "--state", str(state), *CONFIG)
    assert again.code == 0
    assert _tables(state) == before
    leads = {d["id"]: d for d in again.jsonl() if d["type"] == "lead"}
    assert all(leads[i]["assigned_by"] == "known" for i in MATCHED)
    assert leads["L-1044"]["warnings"] == ["duplicate-of:L-1001"]  # the same warning


def test_leads_match_accounts_of_the_state_and_a_dry_run_writes_nothing(tmp_path: Path) -> None:
    state = tmp_path / "s.db"
    assert sfa("apply", "examples/customers.csv", "--state", str(state), *CONFIG).code == 0
    files = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    more = write(tmp_path / "leads.csv",
                 "id,email,company\nN-1,ceo@globex.example,\nN-2,x@gmail.com,Initech\n")
    r = sfa("dry-run", more, "--state", str(state), *CONFIG)
    assert [(d["id"], d["account"]) for d in r.jsonl()] == [("N-1", "C-9001"), ("N-2", "C-9002")]
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.suffix == ".db"} == \
        {k: v for k, v in files.items() if k.endswith(".db")}


def test_a_rejected_duplicate_is_a_record_error_and_exit_1(tmp_path: Path) -> None:
    config = copy_config(tmp_path / "config")
    rules = config / "rules" / "matching.yaml"
    rules.write_text(rules.read_text(encoding="utf-8").replace("action: flag", "action: reject"),
                     encoding="utf-8")
    r = sfa("dry-run", *EXAMPLES, "--config", str(config))
    assert r.code == 1
    bad = [d for d in r.jsonl() if d["error"]]
    assert [(d["id"], d["error"]["code"], d["error"]["field"]) for d in bad] == \
        [("L-1044", "duplicate", "email")]
    assert "examples/leads.csv:44: duplicate: duplicate of 'L-1001'" in r.err
    assert len(r.jsonl()) == 76


def test_explain_finds_a_duplicate_merged_into_a_known_record_by_its_own_id(
    tmp_path: Path,
) -> None:
    config = copy_config(tmp_path / "config")
    path = config / "rules" / "matching.yaml"
    text = path.read_text(encoding="utf-8")
    assert "action: flag" in text
    path.write_text(text.replace("action: flag", "action: merge"), encoding="utf-8")
    r = sfa("explain", "examples/leads.csv", "--id", "L-1044", "--format", "json",
            "--config", str(config))
    assert r.code == 0, r.err
    (row,) = json.loads(r.out)
    assert (row["id"], row["merged_from"], row["row"]) == ("L-1001", "L-1044", 44)
