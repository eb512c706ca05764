"""The engine: a compiled configuration that decides rows (SPEC §8, §9, §11).

``load()`` reads and compiles a configuration once. ``Engine.session()`` runs rows
against a store (in memory, or the SQLite state of SPEC §9); ``Engine.decide()`` is
one row against an empty state. Per row the engine only orchestrates: assignment picks
owners, the lifecycle picks statuses, the store remembers.

The parts: ``rules`` (the compiled configuration), ``session`` (the run over rows),
``context`` (what a session's row handlers share), one module per kind of row
(``customers``, ``opportunities``, ``transactions``), ``decision`` and ``rows`` (the
values out and in).
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import Any

from sfa_rules.config.loader import resolve_folder
from sfa_rules.config.models import Config
from sfa_rules.criteria.ir import CriteriaContext
from sfa_rules.engine.decision import Decision
from sfa_rules.engine.rows import InputRow
from sfa_rules.engine.rules import Rules, compile_config, validation_problems
from sfa_rules.engine.session import BATCH_ROWS, Session, as_of_day
from sfa_rules.errors import ConfigError
from sfa_rules.forecast import ForecastReport
from sfa_rules.lifecycle.statuses import TRANSACTION_EVENTS, EngineName
from sfa_rules.state import MemoryStore, Store, open_state

__all__ = ["BATCH_ROWS", "TRANSACTION_EVENTS", "Engine", "Session", "compile_config", "load"]

LARGE = 1_000  # territories and overrides: from this many, ``load`` freezes the heap


def load(
    folder: str | os.PathLike[str] | None = None, *, lifecycle_engine: EngineName = "auto"
) -> Engine:
    """Load and compile a configuration folder; raises ``ConfigError`` listing every
    problem when it has errors. ``None``: ``./rules`` and ``./territories``, else the
    configuration shipped in the package (SPEC §2)."""
    root = resolve_folder(folder)
    config, sm, ctx, problems = compile_config(root)
    if any(p.severity == "error" for p in problems):  # the list `sfa validate` prints
        raise ConfigError(validation_problems(config, sm, ctx, problems))
    engine = Engine(config, ctx, root, lifecycle_engine)
    ctx.forget_sources()
    if len(config.territories) + len(config.assignment.overrides) >= LARGE:
        # Millions of long-lived objects: every full collection of the cyclic garbage
        # collector would walk them all again (at 50,000 territories one walk costs as
        # much as deciding thousands of rows). Frozen, it never looks at them;
        # ``close()`` hands them back.
        gc.freeze()
        engine._frozen = True
    return engine


class Engine(Rules):
    """A compiled configuration. Build it with :func:`load`; ``close()`` frees the
    lifecycle evaluator (durable-rules keeps rulesets in its C core) and, for a large
    configuration, lets the garbage collector see the process's objects again."""

    _frozen = False
    _thresholds: tuple[int, int, int] | None = None  # the collector's, before hold_collector
    _closed = False

    def __init__(
        self, config: Config, ctx: CriteriaContext, folder: Path, lifecycle_engine: EngineName
    ) -> None:
        super().__init__(config, ctx, folder, lifecycle_engine)
        self._spare: list[Session] = []  # ``decide``'s sessions between calls

    def hold_collector(self) -> None:
        """For a command that runs this engine to its end: until ``close()``, the
        collector never scans the compiled configuration again (with 10,000
        territories that cost a tenth of a run), and its young collections are rarer
        (rows make few cycles). ``close()`` gives the collector back as it was."""
        if not self._frozen:
            gc.freeze()
            self._frozen = True
        if self._thresholds is None:
            self._thresholds = gc.get_threshold()
            gc.set_threshold(50_000, 20, 20)

    def close(self) -> None:
        """Free the lifecycle evaluator (and give back what ``load`` or
        ``hold_collector`` took of the collector). A closed engine decides nothing more:
        its durable-rules ruleset is gone, and its decisions would lack transitions."""
        self._closed = True
        super().close()
        if self._frozen:
            self._frozen = False
            gc.unfreeze()
        if self._thresholds is not None:
            gc.set_threshold(*self._thresholds)
            self._thresholds = None

    def session(
        self,
        state: str | os.PathLike[str] | Store | None = None,
        *,
        dry_run: bool = False,
        as_of: str | date | None = None,
        reassign: bool = False,
        explain: bool = False,
    ) -> Session:
        """A run over rows. ``state``: None (an empty in-memory state), a state file
        path or PostgreSQL URL, or a store. Nothing is written until ``commit()``;
        ``dry_run=True`` opens a state file read-only, so nothing can be, and its rows
        write no history lines (nothing will read them)."""
        if self._closed:
            raise _closed()
        day = as_of_day(as_of)  # refused before a state is opened
        store: Store
        if state is None:  # the session's own store, seen by no one else
            store = MemoryStore()
        elif isinstance(state, (str, os.PathLike)):
            store = open_state(state, dry_run=dry_run, lazy=not dry_run)
        elif all(hasattr(state, name) for name in ("get_customer", "commit", "close")):
            store = state
        else:
            raise TypeError(f"state must be None, a state file path, a postgresql:// URL or "
                            f"a Store, not {type(state).__name__}")
        return Session(self, store, as_of=day, reassign=reassign, explain=explain,
                       private=state is None, history=not dry_run)

    def decide(self, record: Mapping[str, Any]) -> Decision:
        """Decide one record against an empty in-memory state; remembers nothing."""
        if self._closed:
            raise _closed()
        # A session per call cost a fifth of a decision: sessions are kept for the
        # next call instead, each used by one caller at a time (threads included).
        try:
            session = self._spare.pop()
        except IndexError:
            session = Session(self, MemoryStore(), private=True, alone=True)
        decision = session.decide_alone(record)
        self._spare.append(session)
        return decision

    def forecast(
        self,
        records: Iterable[Mapping[str, Any] | InputRow],
        by: str = "owner",
        period: str = "quarter",
        *,
        state: str | os.PathLike[str] | Store | None = None,
    ) -> ForecastReport:
        """The forecast of SPEC §7 over ``records`` (customers and opportunities),
        processed as a dry run (over ``state`` when given). ``by``: owner, territory,
        status, category, manager or team (SPEC §17). ``report.errors`` names every row
        left out (a row in error, an unreadable amount or date), with file and row."""
        with self.session(state, dry_run=True) as session:
            report, _ = session.forecast(records, by=by, period=period)
        return report  # its errors and warnings include the rows' own


def _closed() -> RuntimeError:
    return RuntimeError("this engine is closed (engine.close(), or the end of its `with` "
                        "block): load the configuration again to decide more records")
