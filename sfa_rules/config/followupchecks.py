"""Checks of `follow_ups:` against the rest of the configuration (SPEC §18)."""

from __future__ import annotations

from collections.abc import Iterator

from sfa_rules.config.eventchecks import activity_kinds, kind_of
from sfa_rules.config.followups import RepTarget
from sfa_rules.config.loader import SourceMap
from sfa_rules.config.models import Config
from sfa_rules.errors import Problem, did_you_mean

__all__ = ["CHECKS"]


def follow_up_actions(config: Config, sm: SourceMap) -> Iterator[Problem]:
    """``follow-up-action``: a follow-up's `then` must name exactly one of `reassign`,
    `status` and `alert`."""
    for i, follow_up in enumerate(config.follow_ups):
        then = follow_up.then
        named = [k for k in ("reassign", "status", "alert") if getattr(then, k) is not None]
        if len(named) != 1:
            got = " and ".join(named) if named else "none"
            yield sm.problem(("follow_ups", i, "then"), "follow-up-action",
                             f"follow-up '{follow_up.id}': then must name exactly one of "
                             f"reassign, status and alert, got {got}")


def follow_up_references(config: Config, sm: SourceMap) -> Iterator[Problem]:
    """``unknown-status``, ``unknown-rep``, ``non-selling-rep``: a follow-up's `then`
    names a status or rep the configuration does not have (or a rep who takes no
    records); ``invalid-value``: its `activity` names an unknown activity kind."""
    statuses = [s.id for s in config.statuses]
    reps = {r.id: r for r in config.reps}
    kinds, of = activity_kinds(config), kind_of(config)
    for i, follow_up in enumerate(config.follow_ups):
        then, name = follow_up.then, f"follow-up '{follow_up.id}'"
        if then.status is not None and then.status not in statuses \
                and then.status not in sm.invalid_ids["statuses"]:
            yield sm.problem(("follow_ups", i, "then", "status"), "unknown-status",
                             f"{name}: unknown status '{then.status}'"
                             f"{did_you_mean(then.status, statuses)}")
        if isinstance(then.reassign, RepTarget):
            rep_id, path = then.reassign.rep, ("follow_ups", i, "then", "reassign", "rep")
            rep = reps.get(rep_id)
            if rep is None and rep_id not in sm.invalid_ids["reps"]:
                yield sm.problem(path, "unknown-rep", f"{name}: unknown rep '{rep_id}'"
                                 f"{did_you_mean(rep_id, list(reps))}")
            elif rep is not None and not rep.sells:
                yield sm.problem(path, "non-selling-rep",
                                 f"{name}: rep '{rep_id}' has sells: false and takes no records")
        for j, kind in enumerate(follow_up.activity or ()):
            if of(kind) is None:
                yield sm.problem(("follow_ups", i, "activity", j), "invalid-value",
                                 f"{name}: unknown activity kind '{kind}' (known: "
                                 f"{', '.join(kinds)}){did_you_mean(kind, kinds)}")


CHECKS = (follow_up_actions, follow_up_references)
