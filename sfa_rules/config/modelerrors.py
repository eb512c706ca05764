"""Pydantic's validation errors as problems at YAML positions, in an admin's words.

Pydantic reports a path (``loc``) into the data, with extra parts for the members of a
union (``ToDefault``, ``int``); this module walks that path through the YAML data to find
the position, names the item by its id, and keeps one member's errors per union.
"""

from __future__ import annotations

import json
import re
from types import UnionType
from typing import Any, Union

from pydantic import BaseModel, ValidationError

from sfa_rules.config import models
from sfa_rules.config.yamlread import Document, Path
from sfa_rules.errors import Problem, did_you_mean, key_hint

_PUNCTUATION = str.maketrans("", "", "_.<>")  # a choice with only these is shown bare
NOUNS = {
    "sales_rules": "sales rule", "statuses": "status", "opportunity_statuses":
    "opportunity status", "reps": "rep", "territories": "territory",
    "overrides": "override", "transitions": "transition", "imports": "import",
    "follow_ups": "follow-up",
}
EXPECTED = {
    "bool_type": "true or false", "int_type": "a whole number", "float_type": "a number",
    "string_type": "text", "dict_type": "a mapping", "model_type": "a mapping",
    "list_type": "a list", "tuple_type": "a list", "literal_error": "one of the choices",
}


def shown(value: Any) -> str:
    """A value as a message quotes it: ``'text'``, ``12``, ``a mapping``."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    return repr(value) if isinstance(value, str) else json.dumps(value)


def _split(data: Any, loc: tuple[Any, ...]) -> tuple[Path, list[int]]:
    """The data path a pydantic ``loc`` points at, and the indexes of its other parts.

    Parts that are not in the data are union-member tags (``ToDefault``, ``int``) or,
    last, the name of a missing key.
    """
    path: list[str | int] = []
    extra: list[int] = []
    for i, seg in enumerate(loc):
        inside = (isinstance(data, dict) and isinstance(seg, str) and seg in data) or (
            isinstance(data, list) and isinstance(seg, int) and 0 <= seg < len(data))
        if inside:
            data = data[seg]
            path.append(seg)
        else:
            extra.append(i)
    return tuple(path), extra


def doc_value(data: Any, path: Path) -> Any:
    """The value at ``path`` of the data (None when the path leaves it)."""
    for seg in path:
        try:
            data = data[seg]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def subject(data: Any, path: Path) -> str:
    """How a message names ``path``: ``territory 'us-west': members[1].weight``.

    The deepest list item on the path that has an id names the item; the rest of the
    path follows it.
    """
    label, start = "", 0
    node = data
    for i, seg in enumerate(path):
        node = node[seg]
        key = path[i - 1] if i else None
        if isinstance(seg, int) and key in NOUNS and isinstance(node, dict) \
                and isinstance(node.get("id"), (str, int)):
            label, start = f"{NOUNS[str(key)]} '{node['id']}'", i + 1
    rest = ""
    for seg in path[start:]:
        rest += f"[{seg}]" if isinstance(seg, int) else (f".{seg}" if rest else str(seg))
    return f"{label}: {rest}" if label and rest else (label or rest or "the file")


def _pick_branches(errors: list[dict[str, Any]], data: Any) -> list[dict[str, Any]]:
    """Of a union's failed members, keep the errors of the one that came closest."""
    groups: dict[tuple[Any, ...], dict[Any, list[dict[str, Any]]]] = {}
    kept: list[dict[str, Any]] = []
    for err in errors:
        extra = _split(data, err["loc"])[1]
        tags = [i for i in extra if err["type"] != "missing" or i != len(err["loc"]) - 1]
        if not tags:
            kept.append(err)
            continue
        point = tuple(err["loc"][: tags[0]])
        groups.setdefault(point, {}).setdefault(err["loc"][tags[0]], []).append(err)
    for point, branches in groups.items():
        refused = {t: errs for t, errs in branches.items()
                   if all(len(e["loc"]) == len(point) + 1 and e["type"] in EXPECTED
                          for e in errs)}
        if len(refused) < len(branches):
            # A member that got further (wrong keys, bad values inside): its errors.
            tried: list[list[dict[str, Any]]] = [
                e for t, e in branches.items() if t not in refused]
            best = min(tried, key=_branch_cost)
            kept.extend(best)
            continue
        # Every member refused the value's type: one problem naming what would fit.
        wants = {EXPECTED[e["type"]] for errs in branches.values() for e in errs}
        if "a number" in wants:
            wants.discard("a whole number")
        first = next(iter(branches.values()))[0]
        kept.append(dict(first, loc=point, msg="must be " + " or ".join(sorted(wants)),
                         union=True))
    return kept


def _branch_cost(errs: list[dict[str, Any]]) -> tuple[int, int]:
    """Fewest errors first; on a tie, the member whose keys the typos resemble."""
    return len(errs), -_resemblance(errs)


def _resemblance(errs: list[dict[str, Any]]) -> int:
    """How many of a member's missing keys look like the unknown keys next to them."""
    missing = [str(e["loc"][-1]) for e in errs if e["type"] == "missing"]
    extra = [str(e["loc"][-1]) for e in errs if e["type"] == "extra_forbidden"]
    return sum(1 for word in extra if did_you_mean(word, missing))


def problems_from(exc: ValidationError, base: Path, doc: Document, file: str) -> list[Problem]:
    """Problems, at their YAML positions, for pydantic's errors on ``doc.data[base]``."""
    errors = [dict(e, loc=base + tuple(e["loc"])) for e in exc.errors(include_url=False)]
    found: dict[tuple[Any, ...], Problem] = {}
    for err in _pick_branches(errors, doc.data):
        path = _split(doc.data, err["loc"])[0]
        kind = err["type"]
        value = err.get("input")
        if kind == "missing":
            line, col = doc.positions.at(path) or (1, 1)
            name = err["loc"][-1]
            code, message = "missing-key", f"{subject(doc.data, path)}: missing required key '{name}'"
        elif kind == "extra_forbidden":
            line, col = doc.positions.key_at(path) or doc.positions.at(path) or (1, 1)
            choices = _field_names(path[:-1])
            code = "unknown-key"
            if str(path[-1]) in choices:  # a key of another form of this value
                others = [str(k) for k in (doc_value(doc.data, path[:-1]) or {})
                          if k != path[-1] and str(k) in choices]
                with_ = f" together with '{others[0]}'" if others else " here"
                message = (f"{subject(doc.data, path[:-1])}: '{path[-1]}' cannot be used"
                           f"{with_}: write one form of it")
            else:
                message = (f"{subject(doc.data, path[:-1])}: unknown key '{path[-1]}'"
                           f"{key_hint(str(path[-1]), choices)}")
        else:
            line, col = doc.positions.at(path) or (1, 1)
            what = subject(doc.data, path)
            hint = ""
            if kind == "literal_error":
                # pydantic writes each choice as its repr: 'x', or "'" for a quote
                choices = [a or b for a, b in re.findall(r"'([^']*)'|\"([^\"]*)\"",
                                                         err["ctx"]["expected"])]
                plain = all(c.translate(_PUNCTUATION).isalnum() for c in choices)
                allowed = ", ".join(choices if plain else (repr(c) for c in choices))
                code, wanted = "invalid-value", f"must be one of {allowed}"
                hint = did_you_mean(value, choices) if isinstance(value, str) else ""
            elif err.get("union") or kind in EXPECTED:
                code, wanted = "wrong-type", err["msg"] if err.get("union") else \
                    f"must be {EXPECTED[kind]}"
            elif kind.startswith("date"):
                code, wanted = "invalid-value", "must be a date (YYYY-MM-DD)"
            elif kind in ("string_too_short", "too_short", "string_pattern_mismatch") \
                    and isinstance(value, str) and not value.strip():  # blanks are empty
                code, wanted = "invalid-value", "must not be empty"
            else:  # a validator's ValueError says it all, in its own words
                code, wanted = "invalid-value", err["msg"].replace("Input should be", "must be")
                if kind == "value_error":
                    wanted = str(err["ctx"]["error"])
            sep = ": " if what.endswith("'") else " "
            message = f"{what}{sep}{wanted}, got {shown(value)}{hint}"
        found.setdefault((line, col, code), Problem(file, line, col, "error", code, message))
    return list(found.values())


def _field_names(path: Path) -> list[str]:
    """Keys the model at ``path`` accepts (for a did-you-mean), whatever its union member."""
    types: list[Any] = [models.ConfigFile]
    for seg in path:
        nxt: list[Any] = []
        for t in _expand(types):
            if isinstance(t, type) and issubclass(t, BaseModel) and isinstance(seg, str):
                f = next((f for n, f in t.model_fields.items() if seg in (n, f.alias)), None)
                if f is not None:
                    nxt.append(f.annotation)
            elif getattr(t, "__origin__", None) in (list, tuple) and isinstance(seg, int):
                nxt.append(t.__args__[0])
            elif getattr(t, "__origin__", None) is dict and isinstance(seg, str):
                nxt.append(t.__args__[1])
        types = nxt
    names: list[str] = []
    for t in _expand(types):
        if isinstance(t, type) and issubclass(t, BaseModel):
            names.extend(f.alias or n for n, f in t.model_fields.items())
    return names


def _expand(types: list[Any]) -> list[Any]:
    """Unwrap Annotated and Union/Optional into the plain member types."""
    out: list[Any] = []
    for t in types:
        if hasattr(t, "__metadata__"):
            out.extend(_expand([t.__origin__]))
        elif getattr(t, "__origin__", None) is Union or type(t) is UnionType:
            out.extend(_expand(list(t.__args__)))
        else:
            out.append(t)
    return out
