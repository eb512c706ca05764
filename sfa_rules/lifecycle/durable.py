"""Lifecycle transitions on durable-rules' Rete engine (SPEC §13).

All transitions of a configuration become ONE durable-rules ruleset: a rule per
transition, its priority its position in file order (``pri``: lower fires first), its
condition the event, ``from`` and the never-lower-the-stage test translated into
durable-rules expressions (``m.event == ...``, ``m.stage == ...``, ``m.rank <= ...``).
Guards are criteria (SPEC §3: case folding, aliases, numeric parses with warnings,
regexes) that durable-rules cannot express exactly, so each guard is evaluated by the
same compiled predicate the built-in evaluator uses and posted as a boolean fact
(``g3: true``: the guard of transition 3 holds); likewise ``fok`` (the follow target
does not lower the stage). The decisions are therefore identical to
``transitions.NativeTransitions``'s, which the test suite checks case by case.

durable-rules traps handled here: one event posted at a time (``post_batch`` silently
drops events); a unique ruleset name per instance (definitions are process-global by
name); a private host without the timer threads ``durable.engine.Host`` starts (they
poll every ruleset forever and are not needed: no timers, no queued messages); the
ruleset is created once per instance (the C engine holds at most 131,072 handles) and
freed by ``close()`` through the C module's ``delete_ruleset``, which the Python layer
never calls; an event no rule handles raises ``MessageNotHandledException``: no
transition. All events share one session id, so no per-customer state accumulates:
each event is consumed by the rule that fires.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from functools import reduce
from typing import Any

from sfa_rules.config.order import STAGES_BY_RANK
from sfa_rules.errors import EngineUnavailable
from sfa_rules.lifecycle.followups import CompiledFollowUp, FollowUpView
from sfa_rules.lifecycle.transitions import CompiledTransition, GuardView

try:  # durable-rules' C extension imports only on CPython < 3.13
    import durable_rules_engine as _dre  # type: ignore[import-not-found]
    from durable import engine as _engine  # type: ignore[import-untyped]
    from durable import lang as _lang
except ImportError:  # also what a C extension that fails to load raises
    _IMPORTED = False
else:
    _IMPORTED = True


__all__ = ["DurableFollowUps", "DurableTransitions", "EngineUnavailable", "available"]


def available() -> bool:
    """Whether durable-rules can be imported here."""
    return _IMPORTED


def _unavailable() -> EngineUnavailable:
    return EngineUnavailable(
        "the durable lifecycle engine needs durable-rules, which cannot be imported "
        "here (it supports CPython 3.11 and 3.12); use the native engine"
    )


class _Ruleset:
    """One durable-rules ruleset of an instance, under a unique name, freed by
    ``close()``: each rule records its index when it fires."""

    name = "durable"

    def __init__(self, prefix: str, rules: Sequence[tuple[int, Any]]) -> None:
        self._ruleset_name = f"{prefix}-{uuid.uuid4().hex}"
        self._hit: list[int] = []
        self._host = _build_rules(self._ruleset_name, rules, self._hit)
        self._ruleset: Any = self._host.get_ruleset(self._ruleset_name)
        self._closed = False

    def _post(self, message: dict[str, Any]) -> int | None:
        """The index of the rule the message fires (None: none, or closed)."""
        if self._closed:
            return None
        self._hit.clear()
        try:
            self._host.post(self._ruleset_name, message)
        except _engine.MessageNotHandledException:
            return None
        return self._hit[0] if self._hit else None

    def close(self) -> None:
        """Delete the ruleset from the C engine (idempotent)."""
        if not self._closed:
            self._closed = True
            _dre.delete_ruleset(self._ruleset._handle)

    def __del__(self) -> None:
        # A forgotten close() must not leak one of the C engine's 131,072 handles. At
        # interpreter shutdown the module may already be torn down (its globals None,
        # contextlib among them): nothing to report, so no module is used here.
        try:
            self.close()
        except Exception:
            pass


class DurableTransitions(_Ruleset):
    """The transitions as one durable-rules ruleset, one per instance."""

    def __init__(self, transitions: Sequence[CompiledTransition]) -> None:
        if not _IMPORTED:
            raise _unavailable()
        self._by_index = {t.index: t for t in transitions}
        self._candidates: dict[str, tuple[CompiledTransition, ...]] = {}
        for t in transitions:
            for e in t.events:
                self._candidates[e] = self._candidates.get(e, ()) + (t,)
        super().__init__("sfa-lifecycle", _rules(transitions))

    def pick(self, event: str, status: str, rank: int, view: GuardView) -> CompiledTransition | None:
        """Post the event with its facts; the rule that fires names the transition."""
        candidates = self._candidates.get(event)
        if not candidates or self._closed:
            return None
        message: dict[str, Any] = {"sid": "0", "event": event, "status": status, "rank": rank}
        # A guard is evaluated only where the native evaluator evaluates it (its `from`
        # and stage hold, and no earlier transition fires), so that both read the same
        # values and give the same warnings; any other guard cannot change which rule
        # fires, and is posted false.
        decided = False
        for t in candidates:
            if t.from_statuses is not None and status not in t.from_statuses:
                continue  # durable-rules checks `from` itself; no guard needed here
            target_rank = view.follow()[1] if t.follow else t.target_rank
            if t.follow and "fok" not in message:
                message["fok"] = target_rank >= rank and target_rank >= 0
            possible = not decided and target_rank >= rank and target_rank >= 0
            if t.guard is not None:
                message[f"g{t.index}"] = held = possible and view.guard(t)
                decided = decided or held
            else:
                decided = decided or possible
        stage = STAGES_BY_RANK.get(rank)
        if stage is not None:
            message["stage"] = stage
        hit = self._post(message)
        return self._by_index[hit] if hit is not None else None


class DurableFollowUps(_Ruleset):
    """The follow-ups as one durable-rules ruleset: a rule per follow-up whose condition
    is its window being over (``m.overdue >= 0``, days past the first due day), not
    fired for this clock start, its ``when`` (``m.w``, evaluated by the compiled
    predicate as for transitions' guards) and no satisfying activity (``m.sat``). One
    event per follow-up whose window is over, naming it (``m.f``): as the transitions
    post only events some transition names, a follow-up whose clock did not start or
    whose window is not over has nothing to post."""

    def __init__(self, follow_ups: Sequence[CompiledFollowUp]) -> None:
        if not _IMPORTED:
            raise _unavailable()
        self._follow_ups = tuple(follow_ups)
        m = _lang.m
        rules = [(f.index, (m.f == f.index) & (m.overdue >= 0) & (m.fired == False)  # noqa: E712
                  & (m.w == True) & (m.sat == False)) for f in follow_ups]  # noqa: E712
        super().__init__("sfa-follow-ups", rules)

    def due(self, view: FollowUpView) -> list[CompiledFollowUp]:
        """Post each follow-up's facts; those whose rule fires are due."""
        out = []
        for f in self._follow_ups:
            due = view.due_from(f)
            if due is None or due > view.as_of or self._closed:
                continue  # no clock yet, or the window is not over: no rule can fire
            overdue = _days(view.as_of) - _days(due)
            message: dict[str, Any] = {"sid": "0", "f": f.index, "overdue": overdue}
            # what the rule reads, each asked only when the ones before it hold (as natively)
            message["w"] = view.guard(f)
            message["sat"] = message["w"] and view.satisfied(f)
            message["fired"] = message["w"] and not message["sat"] and view.fired(f)
            if self._post(message) is not None:
                out.append(f)
        return out


def _days(iso: str) -> int:
    return date.fromisoformat(iso).toordinal()


def _rules(transitions: Sequence[CompiledTransition]) -> list[tuple[int, Any]]:
    """Each transition that can fire as (index, condition): None is no event left, or
    no target."""
    conditions = [(t.index, _condition(t)) for t in transitions]
    return [(i, cond) for i, cond in conditions if cond is not None]


def _build_rules(name: str, rules: Sequence[tuple[int, Any]], hit: list[int]) -> Any:
    """A private host holding the ruleset ``name``: per (index, condition) a rule of
    that priority which records its index in ``hit`` when it fires."""
    m = _lang.m
    rs = _lang.ruleset(name)  # registers itself in durable's global table: undone below
    try:
        with rs:
            for index, cond in rules:
                # pri: lower fires first; durable-rules ignores pri 0, hence index + 1.
                _lang.when_all(_lang.pri(index + 1), cond)(_recorder(index, hit))
    finally:
        _lang._rulesets.pop(name, None)
    if not rs.rules:  # durable-rules rejects an empty ruleset: one rule that never fires
        _lang._rulesets.pop(name, None)
        with rs:
            _lang.when_all(m.event == "")(_recorder(-1, hit))
        _lang._rulesets.pop(name, None)
    full_name, definition = rs.define()
    host = _QuietHost()
    try:
        host.register_rulesets({full_name: definition})
    except _dre.error as exc:  # its fixed tables (SPEC §13: error 107 past 128 rules)
        raise EngineUnavailable(
            f"durable-rules cannot build this configuration's {len(rules)} rules ({exc}); "
            "run it with the built-in evaluator (--lifecycle-engine native)") from exc
    return host


def _condition(t: CompiledTransition) -> Any:
    """``t``'s condition as a durable-rules expression, or None if it can never hold."""
    m = _lang.m
    if not t.events or (not t.follow and t.target_rank < 0):
        return None
    parts = [_any_of(m.event, sorted(t.events))]
    if t.from_stages is not None:
        parts.append(_any_of(m.stage, list(t.from_stages)))
    if t.from_status_ids is not None:
        parts.append(_any_of(m.status, list(t.from_status_ids)))
    if t.follow:
        parts.append(m.fok == True)  # noqa: E712 (`== True` builds a durable-rules expression)
    else:
        parts.append(m.rank <= t.target_rank)
    if t.guard is not None:
        parts.append(getattr(m, f"g{t.index}") == True)  # noqa: E712 (as above)
    return reduce(lambda a, b: a & b, parts)


def _any_of(field: Any, values: list[str]) -> Any:
    return reduce(lambda a, b: a | b, [field == v for v in values])


def _recorder(index: int, hit: list[int]) -> Any:
    def action(c: Any) -> None:
        hit.append(index)

    return action


if _IMPORTED:

    class _QuietHost(_engine.Host):  # type: ignore[misc]
        """A host without the polling timer threads (no timers or queues are used)."""

        def _run(self) -> None:
            pass
