"""A state written under another configuration (issue 14, item 6).

The shipped examples are applied to a state under the shipped configuration; then a
status is removed from the configuration and the same state is read again. Every row
that would decide something from the missing status is a record error naming it and
the way out (never a traceback), the other rows are decided, and the forecast counts
or reports every opportunity of the state (never drops one silently).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import REPO

from sfa_rules.cli.main import main

# After these two, L-1001 is PROSPECT-Proposal and O-2002, O-2005, O-2015 are Proposal.
EXAMPLES = [str(REPO / "examples" / name) for name in ("leads.csv", "opportunities.csv")]


def sfa(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # a traceback is never an acceptable outcome
    return result.exit_code, result.stdout, result.stderr


def _drop_opportunity_status(folder: Path) -> None:
    path = folder / "rules" / "opportunities.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(re.sub(r"  - id: Proposal\n(    .*\n)+?(?=  - id)", "", text),
                    encoding="utf-8")


def _drop_customer_status(folder: Path) -> None:
    path = folder / "rules" / "lifecycle.yaml"
    text = path.read_text(encoding="utf-8")
    text = text.replace("  - {id: PROSPECT-Proposal, stage: prospect, probability: 50}\n", "")
    text = text.replace("prospect_with_estimate: PROSPECT-Proposal",
                        "prospect_with_estimate: PROSPECT-In Negotiation")
    path.write_text(text, encoding="utf-8")
    path = folder / "rules" / "opportunities.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("    customer_status: PROSPECT-Proposal\n", ""), encoding="utf-8")
    path = folder / "rules" / "follow-ups.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("{status: PROSPECT-Proposal}", "{status: PROSPECT-In Negotiation}"),
                    encoding="utf-8")


@pytest.fixture
def applied(tmp_path: Path) -> tuple[Path, Path]:
    """(a copy of the shipped configuration, a state the examples were applied to)."""
    folder = tmp_path / "config"
    for sub in ("rules", "territories"):
        shutil.copytree(REPO / sub, folder / sub)
    state = tmp_path / "st.db"
    code, _, err = sfa("apply", "--config", str(folder), "--state", str(state), *EXAMPLES,
                       "--format", "jsonl")
    assert code == 0, err
    return folder, state


def _rows(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def _decide(folder: Path, state: Path, files: list[str], command: str = "dry-run"
            ) -> tuple[int, list[dict[str, object]]]:
    code, out, err = sfa(command, "--config", str(folder), "--state", str(state), *files,
                         "--format", "jsonl")
    assert "Traceback" not in err
    return code, [json.loads(line) for line in out.splitlines()]


# (what is removed, the rows, the expected error code per row (None: decided), a fragment)
CASES = [
    pytest.param(_drop_opportunity_status, "opportunities.csv",
                 "id,customer,amount\nO-2002,L-1001,100\nO-2001,L-1001,5\n",
                 ["unknown-opportunity-status", None],
                 "opportunity 'O-2002' has the status 'Proposal' in the state",
                 id="opportunity-status-row-without-status"),
    pytest.param(_drop_opportunity_status, "opportunities.csv",
                 "id,customer,status\nO-2002,L-1001,In Negotiation\n",
                 [None], "", id="opportunity-status-row-with-a-status-repairs"),
    pytest.param(_drop_customer_status, "leads.csv", "id,country\nL-1001,US\nL-9999,US\n",
                 ["unknown-status", None],
                 "customer 'L-1001' has the status 'PROSPECT-Proposal' in the state",
                 id="customer-status-lead-row"),
    pytest.param(_drop_customer_status, "opportunities.csv",
                 "id,customer,status\nO-2001,L-1001,Closed Won\n", ["unknown-status"],
                 "add 'PROSPECT-Proposal' back to statuses", id="customer-status-opportunity"),
    pytest.param(_drop_customer_status, "sales_orders.csv",
                 "id,customer,amount\nS-9001,L-1001,10\n", ["unknown-status"],
                 "or move the customer to a configured status with a status_change row",
                 id="customer-status-sales-order"),
    pytest.param(_drop_customer_status, "status_changes.csv",
                 "customer,status\nL-1001,PROSPECT-In Negotiation\n", [None], "",
                 id="customer-status-status-change-repairs"),
]


@pytest.mark.parametrize("command", ["dry-run", "apply"])
@pytest.mark.parametrize("drop, name, text, expected, fragment", CASES)
def test_rows_against_a_foreign_state(applied: tuple[Path, Path], tmp_path: Path, drop: object,
                                      name: str, text: str, expected: list[str | None],
                                      fragment: str, command: str) -> None:
    folder, state = applied
    drop(folder)  # type: ignore[operator]
    code, out, _ = sfa("validate", "--config", str(folder))
    assert code == 0, out
    code, decisions = _decide(folder, state, [_rows(tmp_path, name, text)], command)
    assert [d["error"]["code"] if d["error"] else None for d in decisions] == expected
    assert code == (1 if any(expected) else 0)
    messages = " ".join(str(d["error"]["message"]) for d in decisions if d["error"])
    assert fragment in messages


def test_a_repaired_customer_is_decided_again(applied: tuple[Path, Path], tmp_path: Path) -> None:
    folder, state = applied
    _drop_customer_status(folder)
    repair = _rows(tmp_path, "status_changes.csv", "customer,status\nL-1001,PROSPECT-In Negotiation\n")
    assert _decide(folder, state, [repair], "apply")[0] == 0
    code, decisions = _decide(folder, state, [_rows(tmp_path, "leads.csv", "id\nL-1001\n")])
    assert code == 0 and decisions[0]["status"] == "PROSPECT-In Negotiation"


def test_the_forecast_reports_every_opportunity_it_cannot_count(
        applied: tuple[Path, Path], tmp_path: Path) -> None:
    folder, state = applied
    code, out, err = sfa("forecast", "--config", str(REPO), "--state", str(state),
                         _rows(tmp_path, "leads.csv", "id\nL-1001\n"), "--format", "json")
    before = json.loads(out)[-1]["count"]
    _drop_opportunity_status(folder)
    code, out, err = sfa("forecast", "--config", str(folder), "--state", str(state),
                         _rows(tmp_path, "leads.csv", "id\nL-1001\n"), "--format", "json")
    after = json.loads(out)[-1]["count"]
    reported = re.findall(r"opportunity '(O-\d+)' has the status 'Proposal' in the state.*"
                          r"\[unknown-opportunity-status\]", err)
    assert code == 1
    assert reported and after + len(reported) == before
