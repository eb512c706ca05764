"""``sfa explain --format text``: a decision and its trace for a person (SPEC §20).

One header line per decision (where it came from, who owns it, its status), then one
line per rule tried, with the values as the record and the rule file wrote them::

    examples/leads.csv:3  lead L-1003 -> ana.gomez (territory:us-west), LEAD-New (lead, 0%)
      ✗ override strategic-accounts: employees is 420, needs at least 1000
      ✗ andes: country is AR, needs one of CO, PE, EC
      ✓ us-west: assigned to ana.gomez

``✓`` a rule that matched, ``✗`` one that did not, ``·`` a step that is not a rule (a
kept or known owner, the default owner); members skipped are listed under the rule
that skipped them, and the transition fired is the last ``✓ transition`` line. The
input is SPEC §8's decision dicts (``Decision.to_dict()``), trace included.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = ["render", "render_decision"]

MATCHED, FAILED, STEP = "✓", "✗", "·"
MAX_VALUES = 12  # values of a list shown before "and N more"

# op -> how the rule's expectation reads after "needs"
_NEEDS = {
    "eq": "{}",
    "ne": "anything but {}",
    "in": "one of {}",
    "not_in": "none of {}",
    "prefix": "to start with {}",
    "regex": "to match /{}/",
    "gt": "more than {}",
    "gte": "at least {}",
    "lt": "less than {}",
    "lte": "at most {}",
    "between": "between {}",
}
# op -> how a test reads inside a described block (``not: ...``)
_DESCRIBED = {
    "eq": "{} is {}", "ne": "{} is not {}", "in": "{} is one of {}", "not_in": "{} is none of {}",
    "prefix": "{} starts with {}", "regex": "{} matches /{}/", "gt": "{} > {}", "gte": "{} >= {}",
    "lt": "{} < {}", "lte": "{} <= {}", "between": "{} between {}",
}


def render(decisions: Iterable[Mapping[str, Any]]) -> str:
    """Every decision's header and trace lines, a blank line between decisions."""
    return "\n\n".join("\n".join(render_decision(d)) for d in decisions)


def render_decision(decision: Mapping[str, Any]) -> list[str]:
    """The lines of one decision: its header, its trace, its warnings and error."""
    lines = [_header(decision)]
    if decision.get("event"):
        lines.append(f"  event {decision['event']}")
    for entry in decision.get("trace") or ():
        lines.extend("  " + line for line in _entry(entry))
    if decision.get("transition") == "manual":
        lines.append(f"  {STEP} manual change to {decision.get('customer_status')}: allowed")
    for warning in decision.get("warnings") or ():
        lines.append(f"  warning: {warning}")
    error = decision.get("error")
    if error:
        field = f" (field {error['field']})" if error.get("field") else ""
        lines.append(f"  error: {error.get('code')}: {error.get('message')}{field}")
    return lines


def _header(d: Mapping[str, Any]) -> str:
    where = f"{d.get('source') or 'records'}:{d.get('row') or '-'}"
    what = str(d.get("type")) + (f" {d['id']}" if d.get("id") is not None else "")
    if d.get("customer") is not None:
        what += f" of {d['customer']}"
    if d.get("error"):
        return f"{where}  {what}: in error"
    owner = d.get("owner") or "(nobody)"
    how = f" ({d['assigned_by']})" if d.get("assigned_by") else ""
    status = f"{d.get('status')} ({_status_detail(d)})"
    text = f"{where}  {what} -> {owner}{how}, {status}"
    before = d.get("previous_status")
    after = d.get("customer_status") if "customer_status" in d else d.get("status")
    if before and after and before != after:
        text += f"; {'customer' if 'customer_status' in d else 'status'} {before} -> {after}"
    return text


def _status_detail(d: Mapping[str, Any]) -> str:
    parts = []
    if d.get("type") != "opportunity" and d.get("stage"):
        parts.append(str(d["stage"]))
    if d.get("probability") is not None:
        parts.append(f"{_number(d['probability'])}%")
    if d.get("forecast"):
        parts.append(str(d["forecast"]))
    return ", ".join(parts)


def _entry(entry: Mapping[str, Any]) -> list[str]:
    step = entry.get("step")
    if step == "kept":
        return [f"{STEP} owner kept from the record: {entry.get('owner')}"]
    if step == "known":
        territory = entry.get("territory") or "-"
        return [f"{STEP} known record: owner {entry.get('owner')}, territory {territory}"]
    if step == "default_owner":
        return [f"{STEP} default owner: {entry.get('rep')}"]
    if step == "unassigned":
        return [f"{FAILED} unassigned: {entry.get('why')}"]
    if step in ("account", "duplicate"):
        return [_matching(entry)]
    name = {"override": "override ", "transition": "transition "}.get(str(step), "")
    name += str(entry.get("id"))
    if not entry.get("matched"):
        return [f"{FAILED} {name}: {_why(entry)}"]
    if step == "transition":
        return [f"{MATCHED} {name}: fired, to {entry.get('to')}"]
    result = str(entry.get("result") or "matched")
    if not result.startswith(("assigned to", "matched")):
        result = f"matched, but {result}"  # e.g. no eligible member: on to the next
    lines = [f"{MATCHED} {name}: {result}"]
    lines.extend(f"    skipped {s.get('rep')}: {s.get('reason')}" for s in entry.get("skipped") or ())
    return lines


def _matching(entry: Mapping[str, Any]) -> str:
    """An account match or duplicate screen (lead-to-account matching)."""
    if entry.get("step") == "duplicate":
        return (f"{STEP} duplicate of {entry.get('of')}: the same {entry.get('key')} "
                f"{entry.get('value')} ({entry.get('action')})")
    if not entry.get("matched"):
        return f"{FAILED} account: {entry.get('why')}"
    others = entry.get("others") or ()
    also = f" (also on that key: {', '.join(map(str, others))})" if others else ""
    return (f"{MATCHED} account {entry.get('customer')}: {entry.get('key')} "
            f"{entry.get('value')}, owner {entry.get('owner')}{also}")


def _why(entry: Mapping[str, Any]) -> str:
    why = entry.get("why")
    if isinstance(why, list):
        return "; ".join(_failure(f) for f in why) or "did not match"
    text = str(why or "did not match")
    wanted = entry.get("from")
    if isinstance(wanted, Mapping) and wanted:
        text += " (needs " + ", ".join(f"{k} {_values(v)}" for k, v in wanted.items()) + ")"
    return text


def _failure(f: Mapping[str, Any]) -> str:
    """``country is AR, needs one of CO, PE, EC``."""
    field, op, expected, actual = f.get("field"), f.get("op"), f.get("expected"), f.get("actual")
    if op == "not":
        values = actual if isinstance(actual, Mapping) else {}
        has = ", ".join(_is(name, value) for name, value in values.items())
        return f"{has}, must not match: {_describe(expected)}"
    if op == "exists":
        return f"{field} is missing, needs a value" if expected else f"{_is(field, actual)}, needs no value"
    needs = _NEEDS.get(str(op), str(op) + " {}")
    if op == "prefix" and isinstance(expected, list) and len(expected) > 1:
        needs = "to start with one of {}"
    return f"{_is(field, actual)}, needs {needs.format(_expected(op, expected))}"


def _expected(op: Any, expected: Any) -> str:
    """``CO, PE, EC``; a range as ``low and high``."""
    if op == "between" and isinstance(expected, Sequence) and not isinstance(expected, str):
        return " and ".join(_text(v) for v in expected)
    return _values(expected)


def _is(field: Any, actual: Any) -> str:
    return f"{field} is missing" if actual is None else f"{field} is {_text(actual)}"


def _describe(node: Any) -> str:
    """A described block (``predicates._describe``) as one phrase."""
    if not isinstance(node, Mapping) or len(node) != 1:
        return _text(node)
    key, value = next(iter(node.items()))
    if key in ("all", "any") and isinstance(value, list):
        return "(" + f" {'and' if key == 'all' else 'or'} ".join(_describe(v) for v in value) + ")"
    if key == "not":
        return "not " + _describe(value)
    if key == "rule":
        return f"rule {value}"
    if isinstance(value, Mapping) and len(value) == 1:
        op, expected = next(iter(value.items()))
        if op == "exists":
            return f"{key} {'has a value' if expected else 'has no value'}"
        return _DESCRIBED.get(str(op), "{} " + str(op) + " {}").format(key, _expected(op, expected))
    return _text(node)


def _values(value: Any) -> str:
    if not isinstance(value, Sequence) or isinstance(value, str):
        return _text(value)
    shown = ", ".join(_text(v) for v in value[:MAX_VALUES])
    rest = len(value) - MAX_VALUES
    return shown + (f" and {rest} more" if rest > 0 else "")


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return _number(value)
    return str(value)
