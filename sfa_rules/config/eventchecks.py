"""The events transitions may name (SPEC §6, §8, §18): the fixed ones, ``activity.<kind>``
for every activity kind (named in any case, as rows name kinds), and ``contact.created``;
and the checks of what transitions and manual changes start from."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from sfa_rules.config.loader import SourceMap
from sfa_rules.config.models import ACTIVITY_KINDS, CONTACT_EVENT, EVENTS, Config
from sfa_rules.errors import Problem, did_you_mean

__all__ = ["CHECKS", "activity_kinds", "kind_of", "known_events", "named_event"]

_ACTIVITY = "activity."


def activity_kinds(config: Config) -> tuple[str, ...]:
    """The kinds an activity row may have: the built-in ones, then the configuration's."""
    return tuple(dict.fromkeys((*ACTIVITY_KINDS, *config.settings.activity_kinds)))


def kind_of(config: Config) -> Callable[[str], str | None]:
    """The activity kind a name means, as rows name one: exactly, else ignoring case and
    blanks (unless `settings.case_sensitive`); None when it names none. The
    configuration's own references (`on: activity.Demo`, a follow-up's `activity`) read
    kinds so too."""
    kinds = activity_kinds(config)
    exact = set(kinds)
    folded = {} if config.settings.case_sensitive else {k.strip().casefold(): k for k in kinds}

    def of(name: str) -> str | None:
        return name if name in exact else folded.get(name.strip().casefold())
    return of


def named_event(of: Callable[[str], str | None], event: str) -> str:
    """``event`` with its activity kind as the configuration names it (``activity.call``
    for ``activity.CALL``); any other event as written."""
    if event.startswith(_ACTIVITY):
        kind = of(event[len(_ACTIVITY):])
        if kind is not None:
            return _ACTIVITY + kind
    return event


def known_events(config: Config) -> tuple[str, ...]:
    """Every event a transition may name, in the order messages list them."""
    return (*EVENTS, *(f"activity.{k}" for k in activity_kinds(config)), CONTACT_EVENT)


def event_names(config: Config, sm: SourceMap) -> Iterator[Problem]:
    """``invalid-value``: a transition's `on` is empty, or names an event no row raises: one of the
    opportunity, estimate and sales events, `activity.<kind>` (call, meeting, task,
    email, note or a kind of `settings.activity_kinds`) or `contact.created`."""
    known = known_events(config)
    allowed, of = set(known), kind_of(config)
    for i, transition in enumerate(config.lifecycle.transitions):
        if not transition.on:
            yield sm.problem(("lifecycle", "transitions", i, "on"), "invalid-value",
                             f"transition '{transition.id}': on names no event, so it never "
                             f"fires: name one or more ({', '.join(EVENTS[:3])}, ...)")
        for j, event in enumerate(transition.on):
            if named_event(of, event) in allowed:
                continue
            yield sm.problem(
                ("lifecycle", "transitions", i, "on", j), "invalid-value",
                f"transition '{transition.id}': on[{j}] must be one of {', '.join(EVENTS)}, "
                f"activity.<kind> ({', '.join(activity_kinds(config))}) or {CONTACT_EVENT}, "
                f"got '{event}'{did_you_mean(event, known)}",
            )


def empty_matches(config: Config, sm: SourceMap) -> Iterator[Problem]:
    """``invalid-value``: a transition's `from` (or a manual change's `from` or `to`)
    whose `stage` or `status` is an empty list, which matches no status (it is not
    "any": omit the key for any); ``ignored-changes`` (warning): `manual.changes`
    listed while `manual.allow` is not `listed`, which reads none of them."""
    lifecycle = config.lifecycle
    places: list[tuple[tuple[str | int, ...], str, object]] = [
        (("lifecycle", "transitions", i, "from"), f"transition '{t.id}': from", t.from_)
        for i, t in enumerate(lifecycle.transitions)]
    for i, change in enumerate(lifecycle.manual.changes):
        base = ("lifecycle", "manual", "changes", i)
        places += [((*base, "from"), f"manual change {i + 1}: from", change.from_),
                   ((*base, "to"), f"manual change {i + 1}: to", change.to)]
    for path, what, match in places:
        for key in ("stage", "status"):
            if getattr(match, key, None) == []:
                yield sm.problem((*path, key), "invalid-value",
                                 f"{what}.{key} is an empty list, which matches no status: "
                                 f"name one or more, or leave {key} out for any")
    if lifecycle.manual.changes and lifecycle.manual.allow != "listed":
        yield sm.problem(("lifecycle", "manual", "changes"), "ignored-changes",
                         f"manual.changes are read only with allow: listed (allow is "
                         f"{lifecycle.manual.allow}): set allow: listed, or remove them",
                         "warning")


CHECKS = (event_names, empty_matches)
