"""A customer's opportunities as transitions read them: counted by outcome, the most
advanced open one, the highest change counter.

Guards read the counts and ``{follow: opportunity}`` the best open one (SPEC §6, §7);
both used to be recomputed from the whole list on every event, so a customer with
thousands of opportunities made each of its rows cost thousands of steps. A
`Portfolio` is summarised once and then kept up to date one write at a time
(`Portfolio.put`); only when the best one gets worse is the list read again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sfa_rules.entities import Opportunity

__all__ = ["Portfolio"]

Outcome = Callable[[str], str | None]  # status -> "won" | "lost" | None (open)


@dataclass(slots=True)
class Portfolio:
    """Counts by outcome (``opened`` holds every status neither won nor lost), the best
    open one (highest probability, then highest ``seq``, then lowest id: the first
    maximum of the list in id order), and the highest ``seq`` (None: no opportunity).
    ``stale``: ``best`` must be found again from the list."""

    opened: int = 0
    won: int = 0
    lost: int = 0
    best: Opportunity | None = None
    max_seq: int | None = None
    stale: bool = False

    @classmethod
    def of(cls, opportunities: Iterable[Opportunity], outcome: Outcome,
           open_ids: frozenset[str]) -> Portfolio:
        """The portfolio of a customer's opportunity list."""
        p = cls()
        for o in opportunities:
            p.put(None, o, outcome, open_ids)
        return p

    def counts(self) -> tuple[int, int, int]:
        """Open, won and lost, as guards read them."""
        return self.opened, self.won, self.lost

    def put(self, old: Opportunity | None, new: Opportunity, outcome: Outcome,
            open_ids: frozenset[str]) -> None:
        """Take one write of this customer's: ``old`` (the value before, if it was
        this customer's) replaced by ``new``."""
        if old is not None:
            self._count(old, outcome, -1)
            if self.best is not None and self.best.id == old.id:
                self.best = None
                if new.status in open_ids and _key(new) >= _key(old):
                    self.best = new  # no worse than it was: still above every other
                else:
                    self.stale = True
        self._count(new, outcome, +1)
        if not self.stale:
            self._offer(new, open_ids)
        self.max_seq = new.seq if self.max_seq is None else max(self.max_seq, new.seq)

    def _count(self, o: Opportunity, outcome: Outcome, delta: int) -> None:
        result = outcome(o.status)
        if result == "won":
            self.won += delta
        elif result == "lost":
            self.lost += delta
        else:
            self.opened += delta

    def _offer(self, o: Opportunity, open_ids: frozenset[str]) -> None:
        if o.status in open_ids and (self.best is None or _better(o, self.best)):
            self.best = o


def _key(o: Opportunity) -> tuple[float | int, int]:
    return o.probability, o.seq


def _better(a: Opportunity, b: Opportunity) -> bool:
    return _key(a) > _key(b) or (_key(a) == _key(b) and a.id < b.id)
