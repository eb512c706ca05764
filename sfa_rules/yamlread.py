"""Strict, safe YAML: plain data plus the position of every value and key.

PyYAML only *composes* the document here (parse events into a node tree); no
constructor ever runs, so no tag can build an object or call anything. The node tree is
then turned into plain data by :func:`load` with our own, narrower typing rules:

- ``true`` / ``false`` (lower case only) are booleans; ``True``, ``yes``, ``NO``, ``on``
  are text.
- ``-12``, ``0``, ``94107`` are integers; a leading zero keeps the text (``01234``), and
  so do ``1_000``, ``0x1F`` and ``1e3``.
- ``-1.5``, ``0.25``, ``10.`` are floats (decimal point, no exponent).
- ``null``, ``~`` and an empty value are None; everything else is text (``2026-12-20``
  included: a field that expects a date parses it later).
- Quoted and block (``|``, ``>``) scalars are always text. Mapping keys are always text.
- Any explicit tag, core ones (``!!str``) included, is refused (``unsafe-tag``): quote a
  value to make it text.
- Anchors and aliases are allowed (the alias stands for the anchored value); merge keys
  (``<<``) are refused (``merge-key``): write the keys out.
- A repeated key is a ``duplicate-key`` problem at the repeated key; the first value wins.
"""

from __future__ import annotations

import gc
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .errors import Problem

Path = tuple[str | int, ...]
Position = tuple[int, int]
# The position record of one value; see Positions.
Spot = int | tuple[Any, ...]

# Tags our resolver gives to nodes written without a tag; any other tag was explicit.
_PLAIN = "!sfa/plain"
_QUOTED = "!sfa/quoted"
_SEQ = "!sfa/seq"
_MAP = "!sfa/map"
_IMPLICIT_TAGS = frozenset({_PLAIN, _QUOTED, _SEQ, _MAP})

_INT = re.compile(r"[-+]?(?:0|[1-9][0-9]*)")
_FLOAT = re.compile(r"[-+]?(?:0|[1-9][0-9]*)\.[0-9]*")
# An alias may make a small file stand for a huge value ("billion laughs"); past this
# many expanded values the document is refused.
MAX_EXPANDED = 2_000_000


class _Resolver(yaml.resolver.BaseResolver):
    """Marks untagged nodes with our own tags instead of guessing YAML 1.1 types."""

    def resolve(self, kind: type, value: Any, implicit: Any) -> str:
        if kind is ScalarNode:
            return _PLAIN if implicit[0] else _QUOTED
        return _SEQ if kind is SequenceNode else _MAP


class PyComposer(
    yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser, yaml.composer.Composer,
    _Resolver,
):
    """PyYAML's pure-Python parser and composer with our resolver."""

    def __init__(self, stream: str) -> None:
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        yaml.composer.Composer.__init__(self)
        _Resolver.__init__(self)


Composer: type[Any] = PyComposer
try:  # libyaml's parser and composer (C): the same nodes and marks, several times faster.
    from yaml._yaml import CParser

    class CComposer(CParser, _Resolver):
        """libyaml's parser and composer with our resolver."""

        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            _Resolver.__init__(self)

    Composer = CComposer
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    pass


class Positions:
    """Where every value and every mapping key of one document starts (1-based).

    A large configuration has hundreds of thousands of values: a dict from path tuples
    to ``(line, column)`` tuples took 25 times the size of the text. Positions are kept
    instead in a tree shaped like the data, without a path or a tuple per value:

    - a value without children (a scalar, an alias, a refused tag) is one int, its head;
    - a mapping is a tuple ``(head, keys, *children)``, ``keys`` the tuple of its key
      names (shared by the mappings of a document that have the same keys);
    - a sequence is a tuple ``(head, None, *children)``.

    A head packs the position of the value's key (0 for the root and sequence items)
    above the value's own (0 for an alias to a value that contains it); a position
    packs the line above the column, ``shift`` bits each, enough for any offset in the
    text. Inside an alias only the alias itself has a position.
    """

    __slots__ = ("shift", "tree")

    def __init__(self, tree: Spot | None = None, shift: int = 0) -> None:
        self.tree = tree
        self.shift = shift

    def at(self, path: Path) -> Position | None:
        """The value at ``path``, else its longest prefix with a position; None when the
        document has no value at all."""
        found = 0
        mask = (1 << 2 * self.shift) - 1
        for head in self._heads(path):
            found = head & mask or found
        return self._unpack(found) if found else None

    def key_at(self, path: Path) -> Position | None:
        """The mapping key naming ``path``; None when ``path`` is not a known key."""
        heads = list(self._heads(path))
        if not path or len(heads) <= len(path):
            return None
        key = heads[-1] >> 2 * self.shift
        return self._unpack(key) if key else None

    def _heads(self, path: Path) -> Iterator[int]:
        """The heads along ``path``, root first, as far as the tree goes."""
        spot = self.tree
        if spot is None:
            return
        for seg in path:
            if isinstance(spot, int):
                break
            yield spot[0]
            keys = spot[1]
            if keys is None:
                if not (isinstance(seg, int) and 0 <= seg < len(spot) - 2):
                    return
                spot = spot[seg + 2]
            elif seg in keys:
                spot = spot[keys.index(seg) + 2]
            else:
                return
        yield spot if isinstance(spot, int) else spot[0]

    def _unpack(self, packed: int) -> Position:
        return packed >> self.shift, packed & ((1 << self.shift) - 1)


@dataclass
class Document:
    """What :func:`load` returns: data, positions and the problems found."""

    data: Any
    positions: Positions = field(default_factory=Positions)
    problems: list[Problem] = field(default_factory=list)


def scalar(text: str) -> str | int | float | bool | None:
    """The value of a plain (unquoted) scalar under this module's rules."""
    if text in ("", "~", "null"):
        return None
    if text == "true":
        return True
    if text == "false":
        return False
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text):
        return float(text)
    return text


def _pos(node: Node) -> Position:
    # PyYAML marks are 0-based.
    return node.start_mark.line + 1, node.start_mark.column + 1


class _Builder:
    """Turns a node tree into data and its Positions, recording problems on the way."""

    def __init__(self, filename: str, doc: Document, shift: int) -> None:
        self.filename = filename
        self.doc = doc
        self.shift = shift
        self.built: dict[int, Any] = {}  # id(node) -> value, so an alias reuses it
        self.active: set[int] = set()  # nodes being built: an alias to one is a cycle
        self.sizes: dict[int, int] = {}
        self.key_lists: dict[tuple[str, ...], tuple[str, ...]] = {}

    def problem(self, pos: Position, code: str, message: str) -> None:
        self.doc.problems.append(Problem(self.filename, pos[0], pos[1], "error", code, message))

    def pack(self, node: Node) -> int:
        """The node's position as Positions keeps it (PyYAML marks are 0-based)."""
        return (node.start_mark.line + 1) << self.shift | (node.start_mark.column + 1)

    def build(self, node: Node, key: int = 0) -> tuple[Any, Spot]:
        """The node's value and its spot; ``key``: its key's packed position, if any."""
        head = key << 2 * self.shift
        ident = id(node)
        if ident in self.active:
            self.problem(_pos(node), "alias", "an alias refers to a value that contains it")
            return None, head
        head |= self.pack(node)
        if ident in self.built:
            # An alias: the same value; positions of its inside stay at the anchor.
            return self.built[ident], head
        spot: Spot = head
        if node.tag not in _IMPLICIT_TAGS:
            tag = node.tag.replace("tag:yaml.org,2002:", "!!")
            self.problem(
                _pos(node), "unsafe-tag",
                f"tag '{tag}' is not allowed (tags are refused; quote the value for text)",
            )
            value: Any = None
        elif isinstance(node, ScalarNode):
            value = scalar(node.value) if node.tag == _PLAIN else node.value
        elif isinstance(node, SequenceNode):
            self.active.add(ident)
            items = [self.build(item) for item in node.value]
            self.active.discard(ident)
            value = [item for item, _ in items]
            spot = (head, None, *[item_spot for _, item_spot in items])
        else:
            self.active.add(ident)
            value, spot = self.mapping(node, head)
            self.active.discard(ident)
        self.built[ident] = value
        return value, spot

    def mapping(self, node: Node, head: int) -> tuple[dict[str, Any], Spot]:
        result: dict[str, Any] = {}
        spots: list[Spot] = []
        first: dict[str, int] = {}  # key -> its line
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode) or key_node.tag not in _IMPLICIT_TAGS:
                self.problem(_pos(key_node), "bad-key", "a mapping key must be plain text")
                continue
            # Interned: the same few keys recur in every item of a large file.
            name = sys.intern(key_node.value)
            if name == "<<" and key_node.tag == _PLAIN:
                self.problem(_pos(key_node), "merge-key",
                             "merge keys (<<) are not supported; write the keys out")
                continue
            if name in first:
                self.problem(_pos(key_node), "duplicate-key",
                             f"duplicate key '{name}' (first at line {first[name]})")
                continue
            first[name] = key_node.start_mark.line + 1
            result[name], spot = self.build(value_node, self.pack(key_node))
            spots.append(spot)
        keys = tuple(result)
        return result, (head, self.key_lists.setdefault(keys, keys), *spots)

    def expanded_size(self, node: Node) -> int:
        """Values the node stands for once every alias is expanded (memoised)."""
        key = id(node)
        if key in self.sizes:
            return self.sizes[key]
        self.sizes[key] = 1  # provisional: a cycle (reported when building) counts once
        size = 1
        if isinstance(node, SequenceNode):
            size += sum(self.expanded_size(item) for item in node.value)
        elif isinstance(node, MappingNode):
            size += sum(self.expanded_size(v) for _, v in node.value)
        self.sizes[key] = min(size, MAX_EXPANDED + 1)
        return self.sizes[key]


def load(text: str, filename: str) -> Document:
    """Read one YAML document strictly; never raises for a problem in the text.

    ``filename`` is only used in the problems. On a syntax error ``data`` is None and
    the single problem says where PyYAML stopped.
    """
    # The node tree and the data hold no reference cycles, so the cyclic garbage
    # collector has nothing to find here; left on, it rescans the growing heap of
    # nodes again and again (3-4x the reading time of a large configuration).
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _load(text, filename)
    finally:
        if was_enabled:
            gc.enable()


def _load(text: str, filename: str) -> Document:
    doc = Document(data=None)
    try:
        composer = Composer(text)
        try:
            root = composer.get_single_node()
        finally:
            composer.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = exc.problem or exc.context or "invalid YAML"
        if exc.problem and exc.context:
            started = exc.context_mark
            where = f" at {started.line + 1}:{started.column + 1}" if started else ""
            what = f"{exc.problem} ({exc.context}{where})"
        doc.problems.append(Problem(filename, line, column, "error", "yaml-syntax", what))
        return doc
    except yaml.YAMLError as exc:  # reader errors: bad bytes / control characters
        position = getattr(exc, "position", None)
        line, column = _line_col(text, position) if position is not None else (1, 1)
        reason = getattr(exc, "reason", None) or str(exc)
        doc.problems.append(Problem(filename, line, column, "error", "yaml-syntax", str(reason)))
        return doc
    if root is None:
        return doc
    # Wide enough for any line or column of this text.
    shift = (len(text) + 2).bit_length()
    builder = _Builder(filename, doc, shift)
    # Without an anchor there is no alias, and nothing can expand.
    if "&" in text and builder.expanded_size(root) > MAX_EXPANDED:
        builder.problem(_pos(root), "alias", f"aliases expand to more than {MAX_EXPANDED} values")
        return doc
    doc.data, tree = builder.build(root)
    doc.positions = Positions(tree, shift)
    return doc


def _line_col(text: str, offset: int) -> Position:
    before = text[:offset]
    return before.count("\n") + 1, offset - (before.rfind("\n") + 1) + 1
