"""Strict, safe YAML: plain data plus the position of every value and key.

PyYAML only *parses* the text here (into events); no constructor ever runs, so no tag
can build an object or call anything. :func:`load` turns the events straight into plain
data and its positions, with our own, narrower typing rules:

- ``true`` / ``false`` (lower case only) are booleans; ``True``, ``yes``, ``NO``, ``on``
  are text.
- ``-12``, ``0``, ``94107`` are integers; a leading zero keeps the text (``01234``), and
  so do ``1_000``, ``0x1F`` and ``1e3``.
- ``-1.5``, ``0.25``, ``10.`` are floats (decimal point, no exponent).
- A number past 1.8e308 (the largest float), however written, is a ``bad-number``
  problem: numbers are always finite.
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
from dataclasses import dataclass, field
from typing import Any

import yaml

from sfa_rules.config.positions import Path, Position, Positions, Spot
from sfa_rules.config.yamlbuild import MAX_DEPTH, Builder, TooDeep, scalar
from sfa_rules.errors import Problem

__all__ = [
    "MAX_DEPTH", "MAX_EXPANDED", "Document", "Path", "Position", "Positions", "Spot", "load",
    "scalar",
]

# An alias may make a small file stand for a huge value ("billion laughs"); past this
# many expanded values the document is refused.
MAX_EXPANDED = 2_000_000


class PyParser(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser):
    """PyYAML's pure-Python parser."""

    def __init__(self, stream: str) -> None:
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)


Parser: type[Any] = PyParser
try:  # libyaml's parser (C): the same events and marks, several times faster.
    from yaml._yaml import CParser

    Parser = CParser
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    pass


@dataclass
class Document:
    """What :func:`load` returns: data, positions and the problems found."""

    data: Any
    positions: Positions = field(default_factory=Positions)
    problems: list[Problem] = field(default_factory=list)


def load(text: str, filename: str) -> Document:
    """Read one YAML document strictly; never raises for a problem in the text.

    ``filename`` is only used in the problems. On a syntax error ``data`` is None and
    the single problem says where PyYAML stopped.
    """
    # The data and its positions hold no reference cycles, so the cyclic garbage
    # collector has nothing to find here; left on, it rescans the growing heap of
    # containers again and again (3-4x the reading time of a large configuration).
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _load(text, filename)
    finally:
        if was_enabled:
            gc.enable()


def _load(text: str, filename: str) -> Document:
    doc = Document(data=None)
    # Wide enough for any line or column of this text.
    shift = (len(text) + 2).bit_length()
    try:
        parser = Parser(text)
        try:
            builder = Builder(parser, filename, shift, named=isinstance(parser, PyParser))
            data, tree, root = builder.document()
        finally:
            parser.dispose()
    except TooDeep as exc:
        doc.problems.append(Problem(
            filename, exc.mark.line + 1, exc.mark.column + 1, "error", "too-deep",
            f"values nest more than {MAX_DEPTH} levels deep; a configuration needs a few",
        ))
        return doc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        if exc.context_mark is not None and (exc.context or "").startswith(_AT_ITS_START):
            mark = exc.context_mark  # the key without ':', the quote or bracket left open
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = exc.problem or exc.context or "invalid YAML"
        if exc.problem and exc.context:
            started = exc.context_mark
            where = f" at {started.line + 1}:{started.column + 1}" if started else ""
            what = f"{exc.problem} ({exc.context}{where})"
        hint = next((h for words, h in _SYNTAX_HINTS if words in what), None)
        what = f"{what}: {hint}" if hint else what
        doc.problems.append(Problem(filename, line, column, "error", "yaml-syntax", what))
        return doc
    except UnicodeEncodeError as exc:  # a lone surrogate: no text a file can hold
        line, column = _line_col(text, exc.start)
        doc.problems.append(Problem(filename, line, column, "error", "yaml-syntax",
                                    "a lone surrogate character is not text"))
        return doc
    except yaml.YAMLError as exc:  # reader errors: bad bytes / control characters
        position = getattr(exc, "position", None)
        line, column = _line_col(text, position) if position is not None else (1, 1)
        reason = getattr(exc, "reason", None) or str(exc)
        doc.problems.append(Problem(filename, line, column, "error", "yaml-syntax", str(reason)))
        return doc
    if root is None:
        return doc
    # Without an anchor there is no alias, and nothing can expand.
    if "&" in text and builder.expanded > MAX_EXPANDED:
        builder.problems = []
        builder.problem(root.start_mark, "alias",
                        f"aliases expand to more than {MAX_EXPANDED} values")
        doc.problems = builder.problems
        return doc
    doc.data, doc.positions, doc.problems = data, Positions(tree, shift), builder.problems
    return doc


# What the YAML parser's words most often mean in a configuration file, and what to do.
# Mistakes PyYAML notices only lines later (at the next key, or the end of the file):
# their position is where the construct began, which is where the mistake is.
_AT_ITS_START = ("while scanning a simple key", "while scanning a quoted scalar",
                 "while parsing a flow")
_SYNTAX_HINTS = (
    ("mapping values are not allowed", "a value holding ': ' must be quoted "
     "(name: \"Canada: English and French\"), or this line is indented deeper than its key"),
    ("could not find expected ':'", "a key needs ': ' after it, with a space (priority: 20)"),
    ("that cannot start any token", "indent with spaces, not tabs; quote a value that "
     "starts with @ or `"),
    ("a tab character", "indent with spaces, not tabs"),
    ("undefined alias", "an alias (*name) must follow its anchor (&name) in the same file"),
    ("while scanning a quoted scalar", "a quote is never closed"),
    ("expected <block end>", "this line's indentation matches no key above it"),
    ("did not find expected key", "this line's indentation matches no key above it"),
    ("did not find expected '-' indicator", "this line's indentation matches no item above "
     "it: indent a key of an item like the item's other keys"),
    ("but found another document", "a configuration file holds one document: remove this "
     "'---', or move what follows it into a file of its own"),
)


def _line_col(text: str, offset: int) -> Position:
    before = text[:offset]
    return before.count("\n") + 1, offset - (before.rfind("\n") + 1) + 1
