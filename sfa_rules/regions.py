"""Regions: exact sets of records, as unions of boxes over fields (SPEC §15).

The static checks ask questions such as "does every record this territory matches also
match one tried before it?". A criteria node becomes a *region*: a union of *boxes*,
each box one set of allowed atoms (:mod:`atoms`) per field, fields it does not name
being free. Union, intersection and difference are exact, and a non-empty box always
holds a real record (its fields are independent), which :meth:`Regions.witness` shows.

Tests the atoms cannot decide (``regex``, a field compared both as text and as a
number) make a node *inexact*: it then has a lower region (records certainly matched)
and an upper region (records possibly matched), and the checks never claim anything
that needs more than those bounds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from .atoms import DATE_FIELD, Partition, Unknown, bits
from .predicates import All, Any_, Node, Not, RuleRef, Test

Box = Mapping[str, int]  # field -> allowed atoms (bit mask); a missing field is free
Region = list[Box]  # a union of non-empty boxes
UNIVERSE: Region = [{}]
MAX_BOXES = 5_000  # beyond this a region is "too complex" rather than slow


# -- the box algebra -------------------------------------------------------------


class TooComplex(Unknown):
    """A region grew past ``MAX_BOXES``."""


@dataclass
class Algebra:
    """Exact set operations on regions over the given partitions."""

    parts: dict[str, Partition]
    valid: dict[str, int] = field(init=False)

    def __post_init__(self) -> None:
        self.valid = {name: p.valid for name, p in self.parts.items()}

    def box(self, name: str, mask: int) -> Region:
        """The region of one field's mask (others free)."""
        if not mask:
            return []
        return [{}] if mask == self.valid[name] else [{name: mask}]

    @staticmethod
    def meet(a: Box, b: Box) -> Box | None:
        """The intersection of two boxes, or None when empty."""
        if len(b) > len(a):
            a, b = b, a
        out = dict(a)
        for name, mask in b.items():
            m = out[name] & mask if name in out else mask
            if not m:
                return None
            out[name] = m
        return out

    def both(self, r: Region, s: Region) -> Region:
        """Intersection of two regions."""
        out = [m for a in r for b in s if (m := self.meet(a, b)) is not None]
        return self.bounded(out)

    @staticmethod
    def meets(a: Box, b: Box) -> bool:
        """Do two boxes share a record?"""
        for name, mask in b.items():
            have = a.get(name)
            if have is not None and not have & mask:
                return False
        return True

    def minus_box(self, a: Box, b: Box) -> list[Box]:
        """``a`` minus ``b`` as disjoint boxes (``[a]`` itself when they do not meet)."""
        if not self.meets(a, b):
            return [a]
        out: list[Box] = []
        cur = dict(a)
        for name, mask in b.items():
            have = cur.get(name, self.valid[name])
            rest = have & ~mask
            if rest:
                piece = dict(cur)
                piece[name] = rest
                out.append(piece)
            cur[name] = have & mask
        return out

    def minus(self, r: Region, boxes: Iterable[Box]) -> Region:
        """``r`` minus the union of ``boxes``."""
        for b in boxes:
            if not r:
                break
            r = self.bounded([piece for a in r for piece in self.minus_box(a, b)])
        return r

    def complement(self, r: Region) -> Region:
        """Every record not in ``r``."""
        return self.minus([{}], r)

    @staticmethod
    def bounded(r: Region) -> Region:
        if len(r) > MAX_BOXES:
            raise TooComplex(f"its criteria expand to more than {MAX_BOXES} cases")
        return r


@dataclass(frozen=True)
class Approx:
    """A node's region: exact when ``reasons`` is empty (then lower is upper)."""

    lower: Region
    upper: Region
    reasons: tuple[str, ...] = ()

    @property
    def exact(self) -> bool:
        return not self.reasons


class Regions:
    """Converts criteria nodes to regions (named rules converted once)."""

    def __init__(self, algebra: Algebra) -> None:
        self.algebra = algebra
        self._rules: dict[str, Approx] = {}

    def of(self, node: Node) -> Approx:
        """The region of a node, exact or bounded."""
        alg = self.algebra
        if isinstance(node, Test):
            try:
                part = alg.parts[node.field]
                region = alg.box(node.field, part.mask(node))
            except Unknown as unknown:
                return Approx([], UNIVERSE, (unknown.reason,))
            return Approx(region, region)
        if isinstance(node, RuleRef):
            if node.id not in self._rules:
                self._rules[node.id] = self.of(node.node)
            return self._rules[node.id]
        if isinstance(node, Not):
            inner = self.of(node.node)
            if inner.exact:
                region = alg.complement(inner.upper)
                return Approx(region, region)
            return Approx(alg.complement(inner.upper), alg.complement(inner.lower), inner.reasons)
        if isinstance(node, Any_) and not node.nodes:
            # NEVER: what the criteria parser returns for a block in error (already
            # reported); nothing is claimed about it.
            return Approx([], UNIVERSE, ("",))
        children = [self.of(child) for child in node.nodes]
        reasons = tuple(dict.fromkeys(r for c in children for r in c.reasons))
        if isinstance(node, All):
            lower: Region = UNIVERSE
            for c in children:
                lower = alg.both(lower, c.lower)
            if not reasons:
                return Approx(lower, lower)
            upper: Region = UNIVERSE
            for c in children:
                upper = alg.both(upper, c.upper)
            return Approx(lower, upper, reasons)
        lower = alg.bounded([b for c in children for b in c.lower])
        if not reasons:
            return Approx(lower, lower)
        return Approx(lower, alg.bounded([b for c in children for b in c.upper]), reasons)

    def witness(self, box: Box) -> dict[str, str]:
        """One record in a box: its present fields' values (free fields absent)."""
        out: dict[str, str] = {}
        for name in sorted(box, key=lambda f: (f == DATE_FIELD, f)):
            value = self.algebra.parts[name].witness(box[name])
            if value is not None:
                out[name] = value
        return out


class BoxIndex:
    """Boxes added in order, found again by the boxes they may meet.

    A box is filed under its narrowest field, by every atom it allows there, and the
    rest of the box likewise one level down (a tree keyed by field atoms: country,
    then state, then ...). A query walks only the branches whose atoms it allows, so
    territories of other countries, states or zip prefixes are never compared, and the
    work per query follows the boxes that really overlap it.
    """

    def __init__(self) -> None:
        self.boxes: list[Box] = []
        self.owners: list[int] = []
        self._root = _Node()

    def add(self, box: Box, owner: int) -> None:
        """File a box, remembering whose it is."""
        self._root.add(box, len(self.boxes))
        self.boxes.append(box)
        self.owners.append(owner)

    def query(self, region: Region) -> list[int]:
        """Positions of the filed boxes that may meet some box of ``region``, in order."""
        found: set[int] = set()
        for box in region:
            self._root.collect(box, found)
        return sorted(found)


class _Node:
    """One level of :class:`BoxIndex`: boxes with nothing left to file, boxes too wide
    to file, and per field the sub-levels by atom."""

    __slots__ = ("fields", "rest")
    WIDE = 64  # a field allowing more atoms than this is not worth filing under

    def __init__(self) -> None:
        self.rest: list[int] = []
        self.fields: dict[str, dict[int, _Node]] = {}

    def add(self, box: Box, k: int) -> None:
        name = min(box, key=lambda f: (box[f].bit_count(), f)) if box else None
        if name is None or box[name].bit_count() > self.WIDE:
            self.rest.append(k)
            return
        rest = {f: m for f, m in box.items() if f != name}
        branches = self.fields.setdefault(name, {})
        for bit in bits(box[name]):
            branches.setdefault(bit, _Node()).add(rest, k)

    def collect(self, box: Box, found: set[int]) -> None:
        found.update(self.rest)
        for name, branches in self.fields.items():
            mask = box.get(name)
            if mask is None:
                for node in branches.values():
                    node.collect(box, found)
            elif mask.bit_count() <= len(branches):
                for bit in bits(mask):
                    if bit in branches:
                        branches[bit].collect(box, found)
            else:
                for bit, node in branches.items():
                    if mask >> bit & 1:
                        node.collect(box, found)
