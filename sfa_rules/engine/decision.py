"""The decision: what the engine says about one input row (SPEC §8)."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from json.encoder import encode_basestring
from typing import Any, NamedTuple

TRANSACTION_TYPES = frozenset(
    {"opportunity", "estimate", "sales_order", "invoice", "cash_sale", "status_change",
     "activity", "contact"}
)
FOLLOW_UP = "follow_up"  # SPEC §18: a follow-up's action, with ``alert``
# Built once: json.dumps with options builds a new encoder on every call.
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
# to_json's cache: the JSON of a decision's outcome (owner ... error), which most rows
# share with many others; bounded, so that ever-new outcomes cannot grow it forever.
_OUTCOMES: dict[tuple[Any, ...], str] = {}
_OUTCOMES_LIMIT = 4_096

# A warning is "code: message" (``no-customer: ...``, ``duplicate-of:L-1: ...``); the
# criteria's unreadable values say "field: 'x' is not a number" (SPEC §3).
_CODED = re.compile(r"([a-z]+(?:-[a-z]+)+)(?::\S*)?(?:: |$)")
_UNREADABLE = (("is not a number", "not-a-number"), ("is not a date (YYYY-MM-DD)", "not-a-date"))


def warning_code(text: str) -> str:
    """The stable code of a decision's warning (``other`` when it has none)."""
    match = _CODED.match(text)
    if match:
        return match.group(1)
    for ending, code in _UNREADABLE:
        if text.endswith(ending):
            return code
    return "other"


class FrozenDict(dict[str, Any]):
    """A dict that cannot change (a decision's ``error``): it reads, compares, hashes,
    pickles and encodes as JSON like the dict it was made from."""

    __slots__ = ()

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("a decision cannot be changed: use its to_dict() for a copy")

    __setitem__ = __delitem__ = __ior__ = clear = pop = popitem = setdefault = update = _refuse

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(tuple(self.items()))

    def __reduce__(self) -> tuple[Any, ...]:
        return FrozenDict, (dict(self),)


class Decision(NamedTuple):
    """One decision per input row; ``to_dict()`` is SPEC §8's JSON, keys in order,
    with ``account`` (after ``assigned_by``) on a lead matched to a known customer and
    ``merged_from`` (after ``id``) on a duplicate merged into a known record (SPEC §19):
    both only when they have a value; and ``alert`` (after ``event``) on every
    ``follow_up`` row (SPEC §18).

    A named tuple: immutable and typed like a frozen dataclass, and four times cheaper
    to make, which counts at a million rows.
    """

    source: str | None
    row: int | None
    type: str | None
    id: str | None
    owner: str | None = None
    territory: str | None = None
    assigned_by: str | None = None
    status: str | None = None
    stage: str | None = None
    probability: int | float | None = None
    previous_status: str | None = None
    transition: str | None = None
    event: str | None = None
    warnings: tuple[str, ...] = ()
    error: Mapping[str, Any] | None = None  # a FrozenDict: the decision cannot change
    customer: str | None = None  # transaction rows only
    customer_status: str | None = None  # transaction rows only
    forecast: str | None = None  # opportunity rows only
    trace: tuple[dict[str, Any], ...] | None = None  # with explain only
    account: str | None = None  # a lead matched to a known customer (SPEC §19)
    merged_from: str | None = None  # a duplicate lead merged into the known record
    alert: str | None = None  # follow_up rows: the rep to tell (SPEC §18)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Decision:
        """The decision ``to_dict()`` gave (the resume journal stores them so)."""
        fields = {k: v for k, v in data.items() if k in cls._fields}
        fields["warnings"] = tuple(fields.get("warnings") or ())
        if fields.get("error") is not None:
            fields["error"] = FrozenDict(fields["error"])
        if fields.get("trace") is not None:
            fields["trace"] = tuple(fields["trace"])
        return cls(**fields)

    def to_json(self) -> str:
        """``to_dict()`` as compact JSON text (UTF-8 kept as is), built fast: a million
        rows share a few thousand outcomes, so only the row's own values are encoded."""
        if (self.trace is not None or self.error is not None or self.type in TRANSACTION_TYPES
                or self.account is not None or self.merged_from is not None
                or self.type == FOLLOW_UP):
            return _encode(self._as_dict(copied=False))
        outcome = (*self[4:14], type(self.probability))  # 0 == 0.0, but not as JSON
        tail = _OUTCOMES.get(outcome)
        if tail is None:
            if len(_OUTCOMES) >= _OUTCOMES_LIMIT:
                _OUTCOMES.clear()
            tail = _OUTCOMES[outcome] = _encode(self._as_dict(copied=False))[1:].split(",\"owner\":", 1)[1]
        return (
            f'{{"source":{_text(self.source)},"row":{"null" if self.row is None else self.row},'
            f'"type":{_text(self.type)},"id":{_text(self.id)},"owner":{tail}'
        )

    def to_dict(self) -> dict[str, Any]:
        """The decision as SPEC §8's JSON object: a copy, its trace too."""
        return self._as_dict(copied=True)

    def _as_dict(self, copied: bool) -> dict[str, Any]:
        out: dict[str, Any] = {
            "source": self.source,
            "row": self.row,
            "type": self.type,
            "id": self.id,
        }
        if self.merged_from is not None:
            out["merged_from"] = self.merged_from
        if self.type in TRANSACTION_TYPES:
            out["customer"] = self.customer
            out["customer_status"] = self.customer_status
        out["owner"] = self.owner
        out["territory"] = self.territory
        out["assigned_by"] = self.assigned_by
        if self.account is not None:
            out["account"] = self.account
        out["status"] = self.status
        out["stage"] = self.stage
        out["probability"] = self.probability
        if self.type == "opportunity":
            out["forecast"] = self.forecast
        out["previous_status"] = self.previous_status
        out["transition"] = self.transition
        out["event"] = self.event
        if self.type == FOLLOW_UP:
            out["alert"] = self.alert
        out["warnings"] = list(self.warnings)
        out["error"] = None if self.error is None else dict(self.error)
        if self.trace is not None:
            out["trace"] = copy.deepcopy(list(self.trace)) if copied else list(self.trace)
        return out



def _text(value: str | None) -> str:
    return "null" if value is None else encode_basestring(value)
