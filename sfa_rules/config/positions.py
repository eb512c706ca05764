"""Where the values and keys of a YAML document start: :class:`Positions`, kept compact
(a configuration has hundreds of thousands of values)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

__all__ = ["Path", "Position", "Positions", "Spot"]

Path = tuple[str | int, ...]
Position = tuple[int, int]
# The position record of one value; see Positions.
Spot = int | tuple[Any, ...]


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

    def top_keys(self) -> list[tuple[Position, str]]:
        """The document's top-level keys with their positions, in order (none when it
        is no mapping)."""
        spot = self.tree
        if not isinstance(spot, tuple) or spot[1] is None:
            return []
        return [(pos, key) for key in spot[1] if (pos := self.key_at((key,))) is not None]

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
