"""The compiled configuration a session runs (SPEC §2, §11): ``compile_config`` reads
and checks a configuration once; ``Rules`` compiles the territory index, the assigner
and the lifecycle evaluator from it. ``engine.core.Engine`` adds the ways to run it."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any, Self

from sfa_rules.analysis import static as analysis
from sfa_rules.config import checks
from sfa_rules.config.eventchecks import activity_kinds, kind_of
from sfa_rules.config.loader import SourceMap, load_config
from sfa_rules.config.models import Config, OpportunityStatus
from sfa_rules.config.teams import Hierarchy
from sfa_rules.criteria import vocabulary
from sfa_rules.criteria.ir import CriteriaContext
from sfa_rules.errors import Problem
from sfa_rules.lifecycle.statuses import EngineName, Lifecycle
from sfa_rules.matching.matcher import Matcher
from sfa_rules.routing.assignment import Assigner
from sfa_rules.routing.territories import TerritoryIndex
from sfa_rules.state import SQLiteStore

__all__ = ["Rules", "compile_config"]

_GUARD_PREFIX = "customer."
# what a guard reads of the customer that the engine computes, not the row's fields
_COUNTS = frozenset({"open_opportunities", "won_opportunities", "lost_opportunities",
                     "last_activity", "days_since_activity", "activities", "contacts"})
_ROUTING = frozenset({"territories", "assignment", "sales_rules"})  # what routes a record
_OWN = frozenset({"id", "status", "stage", "owner", "territory"})  # the Customer's own


def compile_config(
    folder: str | os.PathLike[str] | None,
) -> tuple[Config, SourceMap, CriteriaContext, list[Problem]]:
    """Load a configuration and parse its criteria once: what running it needs.

    The static analysis of SPEC §15 is ``sfa validate``'s, not a run's: it proves
    properties of the rules and changes no decision.
    """
    config, sm, problems = load_config(folder)
    unread = sorted({p.file for p in problems if p.code in _UNREAD})
    later = checks.run(config, sm)
    ctx = CriteriaContext(config, sm)
    broken = tuple(f"unknown sales rule '{i}'" for i in sm.invalid_ids["sales_rules"])
    later += [
        p for p in ctx.problems
        # A rule dropped for its own errors is reported once, not at every use.
        if not (p.code == "unknown-rule" and p.message.startswith(broken))
    ]
    if unread:  # what names an id of a file that was not read is not unknown, maybe:
        # a warning, so that one syntax error counts as the one error it is
        said = f" (it may be defined in {', '.join(unread)}, which could not be read)"
        later = [replace(p, severity="warning", message=p.message + said)
                 if p.code in _REFERENCES else p for p in later]
    return config, sm, ctx, sorted(problems + later)


def validation_problems(config: Config, sm: SourceMap, ctx: CriteriaContext,
                        problems: list[Problem]) -> list[Problem]:
    """Every problem ``sfa validate`` reports, sorted: ``compile_config``'s, the field
    vocabulary's (``unknown-field``) and the static analysis of SPEC §15, whose checks
    run unless they read a section with an error (their proofs need all of it: an
    unknown status in the lifecycle still lets a shadowed territory be reported). None
    runs when an error is in no known section (a file that could not be read)."""
    found = [*problems, *vocabulary.check(config, sm, ctx)]
    broken = {sm.section_of(p) for p in found if p.severity == "error"}
    if None not in broken:
        found += analysis.check(config, sm, ctx, frozenset(b for b in broken if b))
    return sorted(found)


# Problems that leave a whole file unread, and those a missing file's ids cause.
_UNREAD = frozenset({"unreadable-file", "yaml-syntax", "file-too-large", "not-a-file",
                     "too-deep"})
_REFERENCES = frozenset({"unknown-rep", "unknown-territory", "unknown-status",
                         "unknown-rule", "unknown-opportunity-status", "unset-default",
                         "unknown-team"})


class Rules:
    """A compiled configuration: what every row of a session reads. ``close()`` frees
    the lifecycle evaluator (durable-rules keeps rulesets in its C core)."""

    def __init__(
        self, config: Config, ctx: CriteriaContext, folder: Path, lifecycle_engine: EngineName
    ) -> None:
        self.config = config
        self.folder = folder
        self.ctx = ctx
        self.index = TerritoryIndex(config, ctx)
        self.assigner = Assigner(config, self.index)
        self.lifecycle = Lifecycle(config, ctx, lifecycle_engine)
        self.lifecycle_engine: str = self.lifecycle.engine
        fields = ctx.schema.fields
        # The customer fields guards read (``customer.industry``): the state keeps only those.
        read = [f[len(_GUARD_PREFIX):] for f in fields if f.startswith(_GUARD_PREFIX)]
        # and the fields follow-ups read of the customer (SPEC §18)
        read += [f for name, path in ctx.field_refs if path[0] == "follow_ups"
                 and (f := ctx.field(name)).split(".", 1)[0] not in _OWN]
        self.guard_fields = frozenset(f for f in read if f.split(".", 1)[0] not in _COUNTS)
        # Routing criteria naming the customer (``customer.activities.call``, SPEC §18)
        # read the known customer's view: only then is it built for a row.
        self.routing_reads_customer = any(
            path[0] in _ROUTING and ctx.field(name).startswith(_GUARD_PREFIX)
            for name, path in ctx.field_refs)
        self.opportunity_statuses: dict[str, OpportunityStatus] = {
            o.id: o for o in config.opportunity_statuses
        }
        self.hierarchy = Hierarchy(config.reps)  # managers, teams, rep names (SPEC §17)
        # An activity row's kind: exactly, else by folded name (unless case_sensitive).
        self.activity_kinds = activity_kinds(config)
        self.kind_of = kind_of(config)
        matching = config.matching
        self.matcher = (  # SPEC §19; None: no matching section
            Matcher(matching, self.lifecycle.stage, self.assigner.keep_existing_owner)
            if matching.accounts or matching.duplicates else None
        )
        # What sessions learn of records' field names, shared by every session (bounded
        # by ``Session._canonical``): raw name -> canonical, tuple of names -> canonical?
        self.canonical_keys: dict[str, str] = {}
        self.canonical_shapes: dict[tuple[Any, ...], bool] = {}

    def recount_loads(self, store: Any) -> None:
        """Count the reps' open records in ``store`` again under this configuration
        (pending until its commit): the counts a state keeps were made under the
        configuration it was written with, and a status since closed or moved to the
        customer stage would keep its records counted, a rep at capacity for good (SPEC
        §4). A state file only: a PostgreSQL state is shared by workers running at once,
        whose counts a recount would overwrite, and an in-memory store lives under one
        configuration (and a pipeline may open a session on it per batch)."""
        if isinstance(store, SQLiteStore):
            store.recount_loads(self.lifecycle.open_statuses, fix=True)

    def close(self) -> None:
        """Free the lifecycle evaluator."""
        self.lifecycle.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
