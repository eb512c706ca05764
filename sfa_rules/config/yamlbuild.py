"""The builder behind :func:`yamlread.load`: PyYAML's events of one document turned
straight into plain data and its positions, under yamlread's typing rules (see its
docstring): no constructor runs, tags and merge keys are refused, aliases are bounded.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Callable
from typing import Any

from yaml.composer import ComposerError
from yaml.events import (
    AliasEvent,
    MappingEndEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)

from sfa_rules.config.positions import Spot
from sfa_rules.errors import Problem

__all__ = ["MAX_DEPTH", "Builder", "TooDeep", "WrittenFloat", "WrittenInt", "scalar"]

_INT = re.compile(r"[-+]?(?:0|[1-9][0-9]*)")
_FLOAT = re.compile(r"[-+]?(?:0|[1-9][0-9]*)\.[0-9]*")
# Deeper nesting than any configuration needs is refused (``too-deep``) rather than
# overflowing Python's stack.
MAX_DEPTH = 100


class TooDeep(Exception):
    """A collection nested deeper than MAX_DEPTH; ``mark`` is where it starts."""

    def __init__(self, mark: Any) -> None:
        super().__init__()
        self.mark = mark


class WrittenInt(int):
    """A YAML integer whose text is not its value's (``+5``): ``written`` keeps it, for
    the criteria that compare a number as its text."""

    written: str


class WrittenFloat(float):
    """A YAML float whose text is not its value's (``1.50``, ``10.``): ``written``
    keeps it, for the criteria that compare a number as its text."""

    written: str


def scalar(text: str) -> str | int | float | bool | None:
    """The value of a plain (unquoted) scalar under yamlread's rules."""
    if text in ("", "~", "null"):
        return None
    if text == "true":
        return True
    if text == "false":
        return False
    number: int | float
    if _INT.fullmatch(text):
        number = int(text)
    elif _FLOAT.fullmatch(text):
        number = float(text)
    else:
        return text
    if str(number) == text:
        return number
    written = WrittenInt(number) if type(number) is int else WrittenFloat(number)
    written.written = text
    return written


def _untagged(event: Any) -> bool:
    """Written without a tag (``!`` alone asks for the plain reading too)."""
    return event.tag is None or event.tag == "!"


def _plain_text(event: Any) -> bool:
    """A scalar written without a tag: what a mapping key must be."""
    return event.__class__ is ScalarEvent and _untagged(event)


# The states of an anchored node.
_NEW = 0  # just met: about to be built, or skipped (see _Builder) and its events kept
_KEPT = 1  # skipped where it stands: the first alias to it builds it
_ACTIVE = 2  # being built: an alias to it now is a cycle
_BUILT = 3  # built: aliases share its value


class _Anchor:
    """An anchored node: what aliases to it need."""

    __slots__ = ("event", "events", "pos", "size", "start", "state", "value")

    def __init__(self, event: Any, pos: int, start: int) -> None:
        self.event = event  # its first event
        self.events: list[Any] | None = None  # its events, while kept
        self.pos = pos
        self.size: int | None = None  # values it stands for, once known
        self.start = start  # the expanded count where it began
        self.state = _NEW
        self.value: Any = None


class Builder:
    """Turns the events of one document into data and Positions, with the problems.

    The events are read once and in order, so that PyYAML stops at the same syntax error
    as when it composed a node tree first. A node is built where it stands, except where
    it is skipped (a key that is not plain text, a merge or repeated key, their values,
    the inside of a refused tag): an anchored node in there keeps its events, and the
    first alias to it builds it, as a walk of the node tree from the root did.
    """

    def __init__(self, parser: Any, filename: str, shift: int, named: bool) -> None:
        self.parser = parser
        self.filename = filename
        self.shift = shift
        self.width = 2 * shift
        # PyYAML's own composer named the anchor in its messages; libyaml's did not.
        self.named = named
        self.problems: list[Problem] = []
        self.anchors: dict[str, _Anchor] = {}
        self.key_lists: dict[tuple[str, ...], tuple[str, ...]] = {}
        # Values the document stands for once every alias is expanded, keys left out.
        self.expanded = 0
        self.depth = 0  # collections open around the node being read

    def enter(self, event: Any) -> None:
        """Open a collection; deeper than MAX_DEPTH ends the document (``too-deep``)."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise TooDeep(event.start_mark)

    def problem(self, mark: Any, code: str, message: str) -> None:
        # PyYAML marks are 0-based.
        self.problems.append(
            Problem(self.filename, mark.line + 1, mark.column + 1, "error", code, message))

    def pack(self, mark: Any) -> int:
        """A mark's position as Positions keeps it."""
        line: int = mark.line + 1
        column: int = mark.column + 1
        return line << self.shift | column

    def document(self) -> tuple[Any, Spot | None, Any]:
        """The data, the positions and the first event of the single document (all None
        when the text has no document)."""
        get = self.parser.get_event
        get()  # stream start
        if get().__class__ is StreamEndEvent:
            return None, None, None
        first = get()  # after the document start: the root's first event
        value, spot = self.node(first, 0, get)
        get()  # document end
        event = get()
        if event.__class__ is not StreamEndEvent:
            raise ComposerError("expected a single document in the stream", first.start_mark,
                                "but found another document", event.start_mark)
        return value, spot, first

    def node(self, event: Any, key: int, get: Callable[[], Any]) -> tuple[Any, Spot]:
        """The value and spot of the node ``event`` starts (``get`` reads the rest of it);
        ``key``: the packed position of its key, 0 if none."""
        if event.__class__ is AliasEvent:
            return self.alias(event, key)
        head = key << self.width
        anchor = None
        if event.anchor is not None:
            anchor = self.anchor(event)
            if anchor.state == _BUILT:  # kept events, replayed after an alias built it
                self.skip(event, get)
                return anchor.value, head | anchor.pos
            anchor.state = _ACTIVE
        head |= self.pack(event.start_mark)
        spot: Spot = head
        value: Any = None
        if not _untagged(event):
            tag = event.tag.replace("tag:yaml.org,2002:", "!!")
            self.problem(
                event.start_mark, "unsafe-tag",
                f"tag '{tag}' is not allowed (tags are refused; quote the value for text)",
            )
            self.skip(event, get)
        elif event.__class__ is ScalarEvent:
            self.expanded += 1
            value = self.plain(event) if event.implicit[0] else event.value
        elif event.__class__ is SequenceStartEvent:
            self.expanded += 1
            self.enter(event)
            value = []
            spots: list[Spot | None] = [head, None]
            while (item := get()).__class__ is not SequenceEndEvent:
                item_value, item_spot = self.node(item, 0, get)
                value.append(item_value)
                spots.append(item_spot)
            spot = tuple(spots)
            self.depth -= 1
        else:
            self.expanded += 1
            self.enter(event)
            value, spot = self.mapping(head, get)
            self.depth -= 1
        if anchor is not None:
            anchor.value, anchor.state, anchor.events = value, _BUILT, None
            if anchor.size is None:
                anchor.size = self.expanded - anchor.start
        return value, spot

    def plain(self, event: Any) -> Any:
        """A plain scalar's value; a number past 1.8e308 (what a float holds: record
        values are compared as floats) is a ``bad-number`` problem and None."""
        try:
            value = scalar(event.value)
        except ValueError:  # an int longer than sys.get_int_max_str_digits()
            value = math.inf
        if type(value) is int and len(event.value) > 300 and abs(value) > sys.float_info.max:
            value = math.inf
        if isinstance(value, float) and not math.isfinite(value):
            digits = sum(c.isdigit() for c in event.value)
            self.problem(event.start_mark, "bad-number",
                         f"a number of {digits} digits is too large (numbers stop at "
                         "1.8e308); quote it if it is text")
            return None
        return value

    def mapping(self, head: int, get: Callable[[], Any]) -> tuple[dict[str, Any], Spot]:
        result: dict[str, Any] = {}
        spots: list[Spot] = []
        first: dict[str, int] = {}  # key -> its line
        while (event := get()).__class__ is not MappingEndEvent:
            expanded = self.expanded
            key = self.key(event, get)
            self.expanded = expanded  # keys do not count
            if not _plain_text(key):
                self.problem(key.start_mark, "bad-key", "a mapping key must be plain text")
                self.skip(get(), get)
                continue
            # Interned: the same few keys recur in every item of a large file.
            name = sys.intern(key.value)
            if name == "<<" and key.implicit[0]:
                self.problem(key.start_mark, "merge-key",
                             "merge keys (<<) are not supported; write the keys out")
                self.skip(get(), get)
                continue
            if name in first:
                self.problem(key.start_mark, "duplicate-key",
                             f"duplicate key '{name}' (first at line {first[name]})")
                self.skip(get(), get)
                continue
            first[name] = key.start_mark.line + 1
            result[name], spot = self.node(get(), self.pack(key.start_mark), get)
            spots.append(spot)
        keys = tuple(result)
        return result, (head, self.key_lists.setdefault(keys, keys), *spots)

    def key(self, event: Any, get: Callable[[], Any]) -> Any:
        """Read a mapping key; the event of the node that stands for it (an alias's is
        its anchor's)."""
        if event.__class__ is AliasEvent:
            return self.anchor_of(event).event
        if event.anchor is not None or event.__class__ is not ScalarEvent:
            self.skip(event, get)  # never built as a key, but an alias may build it
        return event

    def alias(self, event: Any, key: int) -> tuple[Any, Spot]:
        """What an alias stands for: the anchored value, at the anchor's position."""
        anchor = self.anchor_of(event)
        if anchor.state == _ACTIVE:
            self.expanded += 1
            self.problem(anchor.event.start_mark, "alias",
                         "an alias refers to a value that contains it")
            return None, key << self.width
        assert anchor.size is not None and anchor.state in (_KEPT, _BUILT)
        if anchor.state == _KEPT:
            assert anchor.events is not None
            replay = iter(anchor.events)
            expanded = self.expanded
            value, spot = self.node(next(replay), key, replay.__next__)
            self.expanded = expanded
        else:
            value, spot = anchor.value, key << self.width | anchor.pos
        self.expanded += anchor.size
        return value, spot

    def skip(self, event: Any, get: Callable[[], Any]) -> list[Any]:
        """Read past the node ``event`` starts without building it; its events.

        An anchored node in there keeps its events for the first alias to it.
        """
        events = [event]
        if event.__class__ is AliasEvent:
            size = self.anchor_of(event).size
            self.expanded += 1 if size is None else size  # one while it is being read
            return events
        anchor = self.anchor(event) if event.anchor is not None else None
        if event.__class__ is SequenceStartEvent:
            self.enter(event)
            while (item := get()).__class__ is not SequenceEndEvent:
                events += self.skip(item, get)
            events.append(item)
            self.depth -= 1
        elif event.__class__ is not ScalarEvent:
            self.enter(event)
            while (item := get()).__class__ is not MappingEndEvent:
                expanded = self.expanded
                events += self.skip(item, get)
                self.expanded = expanded  # keys do not count
                events += self.skip(get(), get)
            events.append(item)
            self.depth -= 1
        self.expanded += 1
        if anchor is not None and anchor.state == _NEW:
            anchor.events, anchor.state = events, _KEPT
            anchor.size = self.expanded - anchor.start
        return events

    def anchor(self, event: Any) -> _Anchor:
        """The anchor ``event`` defines: new, or the same when its kept events replay."""
        anchor = self.anchors.get(event.anchor)
        if anchor is None:
            anchor = _Anchor(event, self.pack(event.start_mark), self.expanded)
            self.anchors[event.anchor] = anchor
        elif anchor.event is not event:
            name = f" {event.anchor!r}" if self.named else ""
            raise ComposerError(f"found duplicate anchor{name}; first occurrence",
                                anchor.event.start_mark, "second occurrence", event.start_mark)
        return anchor

    def anchor_of(self, event: Any) -> _Anchor:
        """The anchor an alias names."""
        anchor = self.anchors.get(event.anchor)
        if anchor is None:
            name = f" {event.anchor!r}" if self.named else ""
            raise ComposerError(None, None, f"found undefined alias{name}", event.start_mark)
        return anchor
