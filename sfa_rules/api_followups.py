"""``sfa due`` and ``sfa follow-up`` as library calls (SPEC §18).

``due`` lists what is due as of a day and writes nothing. ``follow_up`` carries it
out, one decision row per action, committed like ``apply``: in batches with their
decisions as a journal, so that a run killed half way and run again replays what was
committed and goes on with the rest (what was done is no longer due). Running it again
for the same day changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sfa_rules.api import Waiting, open_engine, open_store, require_state, run_key
from sfa_rules.engine.decision import Decision
from sfa_rules.engine.followups import Due, FollowUps
from sfa_rules.engine.session import BATCH_ROWS
from sfa_rules.report import writers
from sfa_rules.report.summary import Summary
from sfa_rules.report.writers import make_writer, open_output
from sfa_rules.state import encode_lines

__all__ = ["FollowUpRequest", "due", "follow_up"]

# the decisions' table, with whom an alert is for, and without the error (never one)
TABLE_COLUMNS = (*(c for c in writers.TABLE_COLUMNS if c != "error"), "alert")


def due(state: str, as_of: str, *, config: Path | None = None,
        lifecycle_engine: str = "auto") -> list[Due]:
    """``sfa due``: every follow-up due as of ``as_of`` in ``state`` (never written),
    by customer then file order."""
    require_state(state)
    engine = open_engine(config, lifecycle_engine)
    with engine, FollowUps(engine) as follow_ups, open_store(state, dry_run=True) as store:
        return follow_ups.due(store, as_of)


@dataclass(frozen=True)
class FollowUpRequest:
    """The options of ``sfa follow-up``: ``fmt`` a writer's name, ``out`` a file (None
    or ``-``: stdout)."""

    state: str
    as_of: str
    config: Path | None = None
    dry_run: bool = False
    lifecycle_engine: str = "auto"
    fmt: str = "jsonl"
    out: str | None = None
    csv_raw: bool = False
    on_wait: Waiting | None = None


def follow_up(request: FollowUpRequest) -> Summary:
    """``sfa follow-up``: carry out what is due as of the request's day and write the
    decisions; without ``dry_run`` commit the state in crash-safe batches."""
    require_state(request.state)
    engine = open_engine(request.config, request.lifecycle_engine)
    store = open_store(request.state, dry_run=request.dry_run, on_wait=request.on_wait)
    summary = Summary()
    key = run_key(engine, {"follow-up": request.as_of}, (request.lifecycle_engine,))
    with engine, FollowUps(engine) as follow_ups, store:
        done, replay = (0, iter(())) if request.dry_run else store.resume_point(key)
        batch: list[str] = []
        with open_output(request.out) as stream:
            writer = make_writer(request.fmt, stream, csv_raw=request.csv_raw,
                                 table_columns=TABLE_COLUMNS)
            for stored in replay:
                decision = Decision.from_dict(stored)
                writer.write(decision)
                summary.add(decision)
            for number, decision in enumerate(follow_ups.carry_out(store, request.as_of),
                                              done + 1):
                decision = decision._replace(row=number)
                writer.write(decision)
                summary.add(decision)
                batch.append(decision.to_json())
                if not request.dry_run and len(batch) >= BATCH_ROWS:
                    store.commit_batch(key, number, encode_lines(batch))
                    done, batch = number, []
            writer.finish()
        if not request.dry_run:  # as apply: the output is in place before the last commit
            store.commit_batch(key, done + len(batch), encode_lines(batch))
            store.finish_run(key)
        for notice in follow_ups.notices:
            summary.notice(notice)
    return summary
