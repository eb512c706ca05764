"""Account matching and duplicate leads (SPEC §19) through the engine, from the case
files of tests/cases/matching/.

Each case gives the `matching:` section (over a small configuration of its own: reps
ana, luis, carla, mia; territory `us` round robin ana/luis for country US; default
territory `pool` (mia); override `big` (1,000+ employees) to carla; a sale makes a
customer), optional ``state`` rows and the ``rows`` whose decisions ``expect`` checks
(only the keys given; ``error`` is the code; ``trace`` a step of the trace, by its
``step``, compared on the keys given); ``files`` replace files of that configuration. Every case runs

- ``run``: the state rows and the rows in one in-memory session (matches within a run);
- ``state``: the state rows applied to a SQLite state first, then the rows over it;
- ``dry``: the same, the rows as a dry run over the state file (which stays unchanged);
- ``bloom``: as ``state``, the state's bitmap of match keys built at the first lookup;

and the decisions of ``rows`` must be the same in all three.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from conftest import CASES, write_config_files
from hypothesis import given
from hypothesis import strategies as st

import sfa_rules
from sfa_rules.config.matching import FREE_MAIL, Accounts, Matching
from sfa_rules.matching.keys import Keys
from sfa_rules.state import sqlite_matches

CASE_FILES = sorted((CASES / "matching").glob("*.yaml"))
MODES = ["run", "state", "dry", "bloom"]
BASE = {
    "territories/reps.yaml": "reps: [{id: ana}, {id: luis}, {id: carla}, {id: mia}]\n",
    "territories/t.yaml": """\
territories:
  - {id: us, when: {country: US}, members: [{rep: ana}, {rep: luis}]}
  - {id: pool, default: true, members: [{rep: mia}]}
""",
    "rules/assignment.yaml": """\
assignment:
  overrides:
    - {id: big, when: {employees: {gte: 1000}}, assign_to: {rep: carla}}
""",
    "rules/lifecycle.yaml": """\
statuses:
  - {id: LEAD-New, stage: lead, probability: 0}
  - {id: PROSPECT-Open, stage: prospect, probability: 50}
  - {id: CUSTOMER-Won, stage: customer, probability: 100}
lifecycle:
  defaults: {new_lead: LEAD-New, new_prospect: PROSPECT-Open, customer: CUSTOMER-Won}
  transitions:
    - {id: sale, on: [sales_order.created], from: {stage: [lead, prospect]}, to: CUSTOMER-Won}
""",
}


def case_config(case: dict[str, Any], root: Path) -> Path:
    files = dict(BASE)
    files.update(case.get("files", {}))  # a case's own reps, say
    files["rules/matching.yaml"] = yaml.safe_dump({"matching": case["matching"]})
    return write_config_files(root, files)


def decide(case: dict[str, Any], tmp_path: Path, mode: str) -> list[dict[str, Any]]:
    engine = sfa_rules.load(case_config(case, tmp_path / "config"))
    state, rows = list(case.get("state", [])), list(case["rows"])
    as_of = case.get("as_of")
    if mode == "run":
        with engine.session(as_of=as_of, explain=True) as session:
            return [d.to_dict() for d in session.process(state + rows)][len(state):]
    path = tmp_path / "state.db"
    with engine.session(state=path, as_of=as_of) as session:
        for d in session.process(state):
            assert d.error is None, d
        session.commit()
    before = path.read_bytes()
    with engine.session(state=path, as_of=as_of, dry_run=mode == "dry", explain=True) as session:
        decisions = [d.to_dict() for d in session.process(rows)]
        if mode == "state":
            session.commit()
    if mode == "dry":
        assert path.read_bytes() == before, "a dry run wrote the state"
    return decisions


def check(got: dict[str, Any], want: dict[str, Any], where: str) -> None:
    for key, value in want.items():
        if key == "error":
            assert (got["error"] or {}).get("code") == value, f"{where}: {got}"
        elif key == "field":
            assert got["error"]["field"] == value, f"{where}: {got}"
        elif key == "trace":
            steps = [s for s in got["trace"] if s.get("step") == value["step"]]
            assert steps, f"{where}: no {value['step']} step in {got['trace']}"
            assert {k: steps[0].get(k) for k in value} == value, f"{where}: {steps[0]}"
        else:
            assert got.get(key) == value, f"{where} {key}: {got}"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("path", CASE_FILES, ids=[p.stem for p in CASE_FILES])
def test_case(path: Path, mode: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if mode == "bloom":  # the state's bitmap of match keys built at the first lookup
        monkeypatch.setattr(sqlite_matches, "BLOOM_AFTER", 1)
        mode = "state"
    case = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert len(case["rows"]) == len(case["expect"]), "one expectation per row"
    for i, (got, want) in enumerate(zip(decide(case, tmp_path, mode), case["expect"]), 1):
        check(got, want, f"{path.stem} row {i} ({mode})")


def test_there_are_cases_for_every_part_of_the_contract() -> None:
    names = {p.stem for p in CASE_FILES}
    assert {"domains", "free-mail", "company-folding", "several-customers", "order",
            "duplicates-flag", "duplicates-merge", "duplicates-reject"} <= names


# -- the keys, one by one ------------------------------------------------------------

KEYS = Keys(Matching(accounts=Accounts(ignore_domains=["partner.io"]),
                     duplicates=None))
KEY_TABLE = [
    # (kind, record, value)
    ("email_domain", {"email": "Bob@ACME.com"}, "acme.com"),
    ("email_domain", {"email": "  bob@acme.com.  "}, "acme.com"),
    ("email_domain", {"email": "bob@www.acme.com"}, "acme.com"),
    ("email_domain", {"email": "bob@eu.acme.com"}, "eu.acme.com"),
    ("email_domain", {"email": "bob@gmail.com"}, None),
    ("email_domain", {"email": "bob@GoogleMail.com"}, None),
    ("email_domain", {"email": "bob@mail.yahoo.com"}, None),
    ("email_domain", {"email": "bob@sub.partner.io"}, None),
    ("email_domain", {"email": "bob"}, None),
    ("email_domain", {"email": "bob@localhost"}, None),
    ("email_domain", {}, None),
    ("website_domain", {"website": "acme.com"}, "acme.com"),
    ("website_domain", {"website": "WWW.Acme.Com"}, "acme.com"),
    ("website_domain", {"website": "https://www.acme.com:8443/a/b?c=d#e"}, "acme.com"),
    ("website_domain", {"website": "http://shop.acme.com"}, "shop.acme.com"),
    ("website_domain", {"website": "acme.com/contact"}, "acme.com"),
    ("website_domain", {"website": "//acme.com"}, "acme.com"),
    ("website_domain", {"website": "https://outlook.com"}, None),
    ("website_domain", {"website": "n/a"}, None),
    ("website_domain", {"website": "  "}, None),
    ("company", {"company": "ACME, Inc."}, "acme"),
    ("company", {"company": "Acme"}, "acme"),
    ("company", {"company": "  Acme   Robotics  LLC "}, "acmerobotics"),
    ("company", {"company": "Société Générale S.A."}, "societegenerale"),
    ("company", {"company": "Müller GmbH"}, "muller"),
    ("company", {"company": "O'Brien & Sons Co. Ltd."}, "obriensons"),
    ("company", {"company": "Inc."}, None),
    ("company", {"company": "Incorporated Pizza"}, "incorporatedpizza"),
    ("company", {"company": "ＡＣＭＥ"}, "acme"),  # full-width letters (NFKD)
    ("company", {"company": "AT&T"}, "att"),  # blanks mean nothing: "ATT", "AT T"
    ("company", {"company": "Hewlett-Packard"}, "hewlettpackard"),
]


@pytest.mark.parametrize(("kind", "record", "value"), KEY_TABLE,
                         ids=[f"{k}-{i}" for i, (k, _, _) in enumerate(KEY_TABLE)])
def test_key_values(kind: str, record: dict[str, str], value: str | None) -> None:
    assert KEYS.values(record).get(kind) == value


@pytest.mark.parametrize(("record", "value"), [
    ({"phone": "+1 (555) 010-7788"}, "15550107788"), ({"phone": "12-34"}, None),
    ({"email": " Bob@Acme.COM "}, "bob@acme.com"),
])
def test_duplicate_key_values(record: dict[str, str], value: str) -> None:
    keys = Keys(Matching(duplicates={"keys": ["phone", "email"]}))  # type: ignore[arg-type]
    assert set(keys.values(record).values()) == ({value} if value else set())


def test_the_shipped_free_mail_list_has_the_common_providers() -> None:
    common = {"gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "icloud.com", "aol.com",
              "proton.me", "protonmail.com", "gmx.com", "gmx.de", "mail.ru", "yandex.ru",
              "qq.com", "163.com", "live.com", "msn.com"}
    assert common <= set(FREE_MAIL)
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    listed = readme.split("<!-- free-mail -->")[1]
    assert sorted(d.strip("` ,.\n") for d in listed.split("<!-- /free-mail -->")[0].split(
        ",")) == sorted(FREE_MAIL)


def _website_reference(value: str) -> str | None:
    """A website's key read the plain way: urlsplit for anything but a bare domain,
    and every parent domain of two labels or more joined and looked up."""
    text = value.strip().lower()
    if not text:
        return None
    if re.match(r"[\w.-]+\Z", text):
        name: str | None = text
    else:
        try:
            name = urlsplit(text if "://" in text else "//" + text.lstrip("/")).hostname
        except ValueError:
            return None
    if not name:
        return None
    name = name.rstrip(".").removeprefix("www.")
    if "." not in name or not re.match(r"^[\w-]+(\.[\w-]+)*$", name):
        return None
    parts = name.split(".")
    free = KEYS.free
    return None if any(".".join(parts[i:]) in free for i in range(len(parts) - 1)) else name


URLISH = st.lists(st.sampled_from(["http", "s", "://", "//", "/", ":", "8080", "a", "acme",
                                   ".", "com", "www.", "gmail", "mail.yahoo", "-", "_", "?",
                                   "#", "@", "[", "]", " ", "\t", "é", "%", "+", "1"]),
                  max_size=12).map("".join)


@given(URLISH)
def test_a_website_key_is_the_host_urlsplit_reads(website: str) -> None:
    assert KEYS.values({"website": website}).get("website_domain") == \
        _website_reference(website)
    domain = f"bob@{website}".strip().rpartition("@")[2]
    assert KEYS.values({"email": f"bob@{website}"}).get("email_domain") == \
        _website_reference(domain)


NAMES = st.text(alphabet="abcdefghijklmnopqrstuvwxyzéèüñçÅ &.,'-", min_size=1, max_size=30)


@given(NAMES)
def test_a_company_name_folds_alike_in_any_case_and_with_a_legal_suffix(name: str) -> None:
    folded = KEYS.company(name)
    assert KEYS.company(name.upper()) == folded
    assert KEYS.company(f"  {name}, Inc. ") == folded or folded is None
    if folded is not None:  # folding twice changes nothing, but for words that join
        # into a legal suffix ("C O" is "co", and "Co" only a suffix)
        assert KEYS.company(folded) == (None if folded in KEYS.ends else folded)
