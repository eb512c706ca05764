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
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .errors import Problem

Path = tuple[str | int, ...]
Position = tuple[int, int]

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


@dataclass
class Document:
    """What :func:`load` returns: data, positions (1-based) and the problems found."""

    data: Any
    positions: dict[Path, Position] = field(default_factory=dict)
    key_positions: dict[Path, Position] = field(default_factory=dict)
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
    """Turns a node tree into data, recording positions and problems on the way."""

    def __init__(self, filename: str, doc: Document) -> None:
        self.filename = filename
        self.doc = doc
        self.built: dict[int, Any] = {}  # id(node) -> value, so an alias reuses it
        self.active: set[int] = set()  # nodes being built: an alias to one is a cycle
        self.sizes: dict[int, int] = {}

    def problem(self, pos: Position, code: str, message: str) -> None:
        self.doc.problems.append(Problem(self.filename, pos[0], pos[1], "error", code, message))

    def build(self, node: Node, path: Path) -> Any:
        key = id(node)
        if key in self.active:
            self.problem(_pos(node), "alias", "an alias refers to a value that contains it")
            return None
        if key in self.built:
            # An alias: same value; positions of its inside stay at the anchor.
            self.doc.positions.setdefault(path, _pos(node))
            return self.built[key]
        mark = node.start_mark
        self.doc.positions[path] = (mark.line + 1, mark.column + 1)
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
            self.active.add(key)
            value = [self.build(item, path + (i,)) for i, item in enumerate(node.value)]
            self.active.discard(key)
        else:
            self.active.add(key)
            value = self.mapping(node, path)
            self.active.discard(key)
        self.built[key] = value
        return value

    def mapping(self, node: Node, path: Path) -> dict[str, Any]:
        result: dict[str, Any] = {}
        first: dict[str, Position] = {}
        for key_node, value_node in node.value:
            kpos = _pos(key_node)
            if not isinstance(key_node, ScalarNode) or key_node.tag not in _IMPLICIT_TAGS:
                self.problem(kpos, "bad-key", "a mapping key must be plain text")
                continue
            name = key_node.value
            if name == "<<" and key_node.tag == _PLAIN:
                self.problem(kpos, "merge-key", "merge keys (<<) are not supported; write the keys out")
                continue
            if name in first:
                line = first[name][0]
                self.problem(kpos, "duplicate-key", f"duplicate key '{name}' (first at line {line})")
                continue
            first[name] = kpos
            self.doc.key_positions[path + (name,)] = kpos
            result[name] = self.build(value_node, path + (name,))
        return result

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
    builder = _Builder(filename, doc)
    # Without an anchor there is no alias, and nothing can expand.
    if "&" in text and builder.expanded_size(root) > MAX_EXPANDED:
        builder.problem(_pos(root), "alias", f"aliases expand to more than {MAX_EXPANDED} values")
        return doc
    doc.data = builder.build(root, ())
    return doc


def _line_col(text: str, offset: int) -> Position:
    before = text[:offset]
    return before.count("\n") + 1, offset - (before.rfind("\n") + 1) + 1
