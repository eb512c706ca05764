"""The `follow_ups:` section: what happens to a customer left untouched (SPEC §18).

Frozen models on the shared base (``models`` imports them into ``ConfigFile``). The
window (``within: 2 business days``) is read here into a :class:`Within`; the checks
that need the rest of the configuration (statuses, reps, activity kinds) are in
:mod:`followupchecks`.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

from sfa_rules.config.base import Id, IdList, Model

__all__ = ["Clock", "FollowUp", "RepTarget", "Then", "Within", "parse_within"]

Clock = Literal["assigned", "status_changed", "last_activity"]
_WITHIN = re.compile(r"\s*(\d{1,5})\s+(business\s+)?days?\s*", re.IGNORECASE)


class Within(NamedTuple):
    """A window's length: ``days`` calendar days, or Monday-to-Friday days."""

    days: int
    business: bool

    def __str__(self) -> str:
        kind = "business " if self.business else ""
        return f"{self.days} {kind}day{'' if self.days == 1 else 's'}"


def parse_within(value: Any) -> Within:
    """``7``, ``"7 days"`` or ``"2 business days"`` as a :class:`Within`."""
    if isinstance(value, Within):
        return value
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 99_999:
        return Within(value, False)
    found = _WITHIN.fullmatch(value) if isinstance(value, str) else None
    if found is None:
        raise PydanticCustomError(
            "within_error",
            "Input should be 'N days' or 'N business days' (N a whole number)",
        )
    return Within(int(found.group(1)), found.group(2) is not None)


def _checked(value: str | int) -> str | int:
    parse_within(value)
    return value


class RepTarget(Model):
    """A reassignment to a named rep."""

    rep: Id = Field(description="Rep id.")


class Then(Model):
    """What a due follow-up does: exactly one of `reassign`, `status` and `alert`."""

    reassign: Literal["next_in_territory", "manager"] | RepTarget | None = Field(
        None,
        description="`next_in_territory`: the next eligible member of the customer's territory other than its owner (the territory's rotation advances); `manager`: the owner's manager (`reps[].manager`; one with `sells: false` never takes it: a warning, nothing changed); `{rep: ID}`: that rep. The new owner restarts the clocks.",
    )
    status: Id | None = Field(None, description="A status id: the customer's new status (decisions: `transition` is the follow-up's id, `event` is `follow_up.<id>`).")
    alert: Literal["owner", "manager"] | None = Field(None, description="A row in the output naming who to tell (`alert`: the owner's or the manager's rep id); nothing changes.")


class FollowUp(Model):
    """A rule over customers' clocks: due when a customer matches `when`, its clock
    started on day D and no activity of the listed kinds happened from D to the
    window's last day; due as of any date after that day, once per customer and clock
    start (a new owner, status or activity starts the clocks again)."""

    id: Id = Field(description="Unique id; decisions say `follow-up:<id>` and `follow_up.<id>`.")
    name: str | None = Field(None, description="Display name.")
    description: str | None = Field(None, description="What the follow-up is for.")
    when: dict[str, Any] | None = Field(None, description="Criteria on the customer: `status`, `stage`, `owner`, `territory`, `last_activity`, `days_since_activity` (as of the run's date), `activities.<kind>`, `contacts`, `open_opportunities` and the fields its rows carried; omit for every customer.")
    within: Annotated[str | int, AfterValidator(_checked)] = Field(
        description="`N days` (the window ends N calendar days after the clock started) or `N business days` (Monday to Friday only: a Tuesday plus 2 business days is the Thursday).",
    )
    of: Clock = Field("assigned", description="The clock: `assigned` (the date the customer got its current owner), `status_changed` (the date it entered its current status) or `last_activity` (the date of its last activity; without one, the date it was assigned).")
    activity: IdList | None = Field(None, description="The activity kinds that satisfy it; omit for any kind.")
    then: Then = Field(description="`{reassign: next_in_territory}`, `{reassign: manager}`, `{reassign: {rep: ID}}`, `{status: ID}`, `{alert: owner}` or `{alert: manager}`.")


def action_of(then: Then) -> dict[str, Any]:
    """The ``then`` mapping as written (``sfa due``'s ``action``)."""
    return then.model_dump(mode="json", exclude_none=True)
