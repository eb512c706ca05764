"""Checks of reps' and territories' settings that the models accept one key at a time:
date ranges that end before they start, a rep listed twice in one territory, a weight
that the territory's distribution never reads."""

from __future__ import annotations

from collections.abc import Iterator

from sfa_rules.config.loader import SourceMap
from sfa_rules.config.models import Config, Window
from sfa_rules.config.yamlread import Path
from sfa_rules.errors import Problem

__all__ = ["CHECKS"]


def _reversed(window: Window | None, path: Path, what: str, sm: SourceMap) -> Iterator[Problem]:
    if window is not None and window.from_ and window.to and window.to < window.from_:
        yield sm.problem((*path, "to"), "invalid-value",
                         f"{what} ends on {window.to} before it starts on {window.from_}: "
                         "swap `from` and `to`")


def date_windows(config: Config, sm: SourceMap) -> Iterator[Problem]:
    """``invalid-value``: a rep's `away` period or a territory's `effective` range whose
    `to` is before its `from` (it would hold on no day: the rep never away, the
    territory never matching)."""
    for i, rep in enumerate(config.reps):
        for j, window in enumerate(rep.away):
            yield from _reversed(window, ("reps", i, "away", j), f"rep '{rep.id}': away",
                                 sm)
    for i, territory in enumerate(config.territories):
        yield from _reversed(territory.effective, ("territories", i, "effective"),
                             f"territory '{territory.id}': effective", sm)


def members(config: Config, sm: SourceMap) -> Iterator[Problem]:
    """``duplicate-member``: a rep listed twice in one territory's `members` (each listing
    is a turn of the rotation: give the rep a `weight` under `weighted` instead).
    ``ignored-weight`` (warning): a member's `weight` in a territory whose distribution
    is not `weighted`, which never reads it."""
    for i, territory in enumerate(config.territories):
        seen: set[str] = set()
        for j, member in enumerate(territory.members):
            if member.rep in seen:
                yield sm.problem(("territories", i, "members", j, "rep"), "duplicate-member",
                                 f"territory '{territory.id}': rep '{member.rep}' is listed "
                                 "twice in members: list each rep once (with distribution: "
                                 "weighted, a weight gives a rep more turns)")
            seen.add(member.rep)
            if member.weight != 1 and territory.distribution != "weighted":
                yield sm.problem(("territories", i, "members", j, "weight"), "ignored-weight",
                                 f"territory '{territory.id}': rep '{member.rep}' has weight "
                                 f"{member.weight}, which {territory.distribution} ignores: "
                                 "set distribution: weighted, or remove the weight",
                                 "warning")


CHECKS = (date_windows, members)
