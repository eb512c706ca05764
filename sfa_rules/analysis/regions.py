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

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from sfa_rules.analysis.atoms import DATE_FIELD, Partition, Unknown, bits
from sfa_rules.criteria.nodes import All, Any_, Node, Not, RuleRef, Test

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

    def cut(self, r: Region, b: Box) -> Region | None:
        """``r`` minus ``b``, or None when ``b`` meets no box of ``r`` (``r`` unchanged).

        The hot loop of the shadow scan: the test of :meth:`meets` is inlined, and the
        boxes ``b`` does not meet are kept as they are (the same objects)."""
        out: Region | None = None
        items = b.items()
        for i, a in enumerate(r):
            for name, mask in items:
                have = a.get(name)
                if have is not None and not have & mask:
                    break
            else:
                if out is None:
                    out = r[:i]
                cur = dict(a)
                for name, mask in items:
                    have = cur.get(name, self.valid[name])
                    rest = have & ~mask
                    if rest:
                        piece = dict(cur)
                        piece[name] = rest
                        out.append(piece)
                    cur[name] = have & mask
                continue
            if out is not None:
                out.append(a)
        return None if out is None else self.bounded(out)

    def merge(self, r: Region) -> Region:
        """The same records in fewer boxes: two boxes alike but in one field become one
        box allowing the atoms of both there (exact, and disjoint boxes stay disjoint).
        Subtraction cuts a box into pieces; pieces that differ in one field only are
        joined again, so that a stored rest stays small."""
        if len(r) < 2:
            return r
        names = sorted({f for b in r for f in b})
        rows = [[b.get(f, 0) for f in names] for b in r]  # 0: the field is free
        changed, merged = True, False
        while changed and len(rows) > 1:
            changed = False
            for i, name in enumerate(names):
                out: list[list[int]] = []
                at: dict[tuple[int, ...], int] = {}
                for row in rows:
                    if not row[i]:
                        out.append(row)
                        continue
                    key = (*row[:i], *row[i + 1:])
                    k = at.get(key)
                    if k is None:
                        at[key] = len(out)
                        out.append(row)
                        continue
                    joined = list(out[k])
                    # a field already freed by a merge (0) allows every atom: it stays free
                    union = joined[i] | row[i] if joined[i] else self.valid[name]
                    joined[i] = 0 if union == self.valid[name] else union
                    out[k] = joined
                    changed = merged = True
                rows = out
        if not merged:
            return r
        return [{f: m for f, m in zip(names, row) if m} for row in rows]

    def minus(self, r: Region, boxes: Iterable[Box]) -> Region:
        """``r`` minus the union of ``boxes``."""
        for b in boxes:
            if not r:
                break
            rest = self.cut(r, b)
            if rest is not None:
                r = rest
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
    """Boxes added in order, found again by the boxes they meet.

    Per field, and per atom of it, the set of filed boxes that allow that atom is kept
    as one bit set (an ``int``, bit ``k`` for the ``k``-th box), next to the set of
    boxes that name the field at all. The boxes meeting a query box are then a few
    unions and intersections of bit sets: per field of the query, the boxes free on it
    or allowing one of its atoms. Territories of other countries, states or zip
    prefixes are never compared, and the positions come out in filing order. A field
    a box allows more than ``WIDE`` atoms of (a wide number band) is not filed: the
    box counts as free on it, and is found whenever its other fields meet.
    """

    WIDE = 64

    def __init__(self) -> None:
        self.boxes: list[Box] = []
        self.owners: list[int] = []
        self._all = 0
        self._named: dict[str, int] = {}  # field -> boxes filed under it
        self._atoms: dict[str, dict[int, int]] = {}  # field -> atom -> boxes allowing it

    def add(self, box: Box, owner: int) -> None:
        """File a box, remembering whose it is."""
        bit = 1 << len(self.boxes)
        for name, mask in box.items():
            if mask.bit_count() > self.WIDE:
                continue
            self._named[name] = self._named.get(name, 0) | bit
            atoms = self._atoms.setdefault(name, {})
            for atom in bits(mask):
                atoms[atom] = atoms.get(atom, 0) | bit
        self._all |= bit
        # Kept with its narrowest field first, the order :meth:`Algebra.cut` cuts in
        # (measured: what is left of a region then stays in fewer pieces).
        self.boxes.append(dict(sorted(box.items(), key=lambda item: item[1].bit_count())))
        self.owners.append(owner)

    def meeting(self, box: Box) -> Iterator[int]:
        """Positions of the filed boxes that may meet ``box``, in filing order (a
        generator: a caller done early does not pay for the rest)."""
        found = self._all
        for name, mask in box.items():
            named = self._named.get(name)
            if not named:
                continue
            atoms = self._atoms[name]
            hit = found & ~named  # the boxes free on this field
            if mask.bit_count() < len(atoms):
                for atom in bits(mask):
                    if atom in atoms:
                        hit |= atoms[atom]
            else:
                for atom, those in atoms.items():
                    if mask >> atom & 1:
                        hit |= those
            found &= hit
            if not found:
                return
        yield from _positions(found)

    def query(self, region: Region) -> list[int]:
        """Positions of the filed boxes that may meet some box of ``region``, in order."""
        found: set[int] = set()
        for box in region:
            found.update(self.meeting(box))
        return sorted(found)


def _positions(found: int) -> Iterator[int]:
    """The set bits of a (long) bit set, lowest first: found in its binary text, which
    costs one pass over the set rather than one per bit."""
    text = bin(found)[:1:-1]
    k = text.find("1")
    while k >= 0:
        yield k
        k = text.find("1", k + 1)
