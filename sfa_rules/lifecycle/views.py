"""What the views of the lifecycle's evaluators share: one criteria view per decision,
built on first use, and each guard's answer computed at most once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["LazyGuards"]


class LazyGuards:
    """``facts``: the criteria view ``facts_fn`` builds (on first use: most decisions
    need no guard, and the view costs more than the rest); ``held(i, guard)``: guard
    number ``i`` over it, evaluated once."""

    __slots__ = ("_facts", "_facts_fn", "_guards")

    def __init__(self, facts_fn: Callable[[], Any]) -> None:
        self._facts_fn = facts_fn
        self._facts: Any = None
        self._guards: dict[int, bool] = {}

    @property
    def facts(self) -> Any:
        """The criteria view (built on first use)."""
        if self._facts is None:
            self._facts = self._facts_fn()
        return self._facts

    def held(self, index: int, guard: Callable[[Any], Any]) -> bool:
        """Whether guard number ``index`` holds over the view."""
        held = self._guards.get(index)
        if held is None:
            held = self._guards[index] = bool(guard(self.facts))
        return held
