"""What a customer's status and stage can be, for the criteria that read them: a
follow-up's ``when`` (it reads the customer) and a guard's ``customer.status`` /
``customer.stage``. A value no customer can have is an error at the value, since the
criterion would silently never match (``unknown-status`` as for a transition's
``from``; ``invalid-value`` for a stage)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from sfa_rules.config.models import STAGES, Config
from sfa_rules.config.positions import Path
from sfa_rules.errors import did_you_mean

__all__ = ["CustomerValues"]

_CUSTOMER = "customer."


class CustomerValues:
    """The statuses and stages of a configuration, and the check of criteria values."""

    def __init__(self, config: Config, sourcemap: object) -> None:
        self._known: dict[str, tuple[str, list[str]]] = {
            "status": ("unknown-status", [s.id for s in config.statuses]),
            "stage": ("invalid-value", list(STAGES)),
        }
        # statuses refused when read are reported there, not again here
        self._refused = getattr(sourcemap, "invalid_ids", {}).get("statuses", set())

    def check(
        self, name: str, values: list[Any], path: Path, each: bool, text: Callable[[Any], str]
    ) -> Iterator[tuple[Path, str, str]]:
        """(where, code, message) for each value of the criterion on ``name`` at ``path``
        that no customer has; ``each``: the values are a list at ``path``; ``text``
        folds a value as the criteria compare it."""
        if name.startswith(_CUSTOMER):
            name = name[len(_CUSTOMER):]
        elif path[0] != "follow_ups":
            return
        if name not in self._known:
            return
        code, known = self._known[name]
        folded = {text(k) for k in known}
        listed = f" ({', '.join(known)})" if len(known) <= 3 else ""
        for i, value in enumerate(values):
            if text(value) in folded or str(value) in self._refused:
                continue
            yield ((*path, i) if each else path, code,
                   f"unknown {name} '{value}'{did_you_mean(str(value), known)}: no customer "
                   f"has it{listed}, so the criterion never matches")
