"""What is left of a section once its failing parts are taken out (SPEC §10, §16).

``sfa validate`` reports every problem in one run. List sections are validated item
by item by the loader; an item that fails keeps its other keys (``salvage_item``: a
territory with a wrong ``priority`` still has its members and criteria checked),
unless what fails is its id or the item itself. A mapping section (``assignment``,
``lifecycle``, ...) that fails is validated again here without its failing parts (an
override, a transition, a key with a wrong value), so that its other overrides,
transitions and references are still checked. Its problems were reported by the
first validation; this only finds what can still be loaded.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from pydantic import BaseModel, ValidationError

from sfa_rules.config.modelerrors import _split
from sfa_rules.config.yamlread import Path

__all__ = ["salvage", "salvage_item"]

_ROUNDS = 4  # a key taken out may uncover another problem; so many tries at most


def _culprit(data: Any, loc: tuple[Any, ...]) -> Path | None:
    """What to take out for one error: the list item it is in (the first list on its
    path), else the key whose value is wrong; None when only the whole section can go."""
    path = _split(data, loc)[0]
    for i, seg in enumerate(path):
        if isinstance(seg, int):
            return path[: i + 1]
    return path or None


def _remove(data: Any, path: Path, kept: dict[Path, list[int]]) -> None:
    parent = data
    for seg in path[:-1]:
        parent = parent[seg]
    last = path[-1]
    if isinstance(last, int):
        places = kept.setdefault(path[:-1], list(range(len(parent))))
        del places[last]
    del parent[last]


def salvage(model: type[BaseModel], value: Any) -> tuple[BaseModel | None, dict[Path, list[int]]]:
    """The section's model without its failing parts, or None; and, for each list that
    lost items, the file's index of every item kept (in merged order)."""
    if not isinstance(value, dict):
        return None, {}
    data = copy.deepcopy(value)
    kept: dict[Path, list[int]] = {}
    for _ in range(_ROUNDS):
        try:
            return model.model_validate_json(json.dumps(data), strict=True), kept
        except ValidationError as exc:
            culprits = {_culprit(data, tuple(e["loc"])) for e in exc.errors(include_url=False)}
        if None in culprits:
            return None, {}
        # Deepest and last first, so that the other paths still point where they did.
        for path in sorted(culprits, key=_order, reverse=True):  # type: ignore[arg-type]
            _remove(data, path, kept)  # type: ignore[arg-type]
    return None, {}


def salvage_item(model: type[BaseModel], item: Any,
                 essential: tuple[str, ...] = ("id",)) -> BaseModel | None:
    """A list item (a rep, a territory) without its failing keys, or None when what
    fails is an ``essential`` key or the item as a whole: its other keys (members,
    windows, criteria) still go through the later checks, as they would in a section."""
    if not isinstance(item, dict):
        return None
    data = dict(item)
    for _ in range(_ROUNDS):
        try:
            return model.model_validate_json(json.dumps(data), strict=True)
        except ValidationError as exc:
            keys = {_split(data, tuple(e["loc"]))[0][:1] for e in exc.errors(include_url=False)}
        if () in keys or any(path[0] in essential for path in keys):
            return None
        for (key,) in keys:
            del data[key]
    return None


def _order(path: Path) -> tuple[tuple[int, Any], ...]:
    return tuple((0, seg) if isinstance(seg, int) else (1, str(seg)) for seg in path)
