"""``sfa due`` (what is due, nothing written) and ``sfa follow-up`` (carry it out)."""

from __future__ import annotations

import csv
import json
import sys
from typing import Any

import click

from sfa_rules import api_followups
from sfa_rules.cli.options import (
    config_option,
    default_format,
    iso_date,
    lifecycle_engine_option,
    reported,
    waiting,
)
from sfa_rules.engine.followups import Due

__all__ = ["due_command", "follow_up_command"]

_COLUMNS = ("customer", "follow_up", "owner", "clock_start", "due", "days_overdue", "action")


def due(state: str, as_of: str, config: Any, lifecycle_engine: str, fmt: str | None) -> int:
    """Print what is due; exit 0 (nothing written, whatever is due)."""
    with reported():
        found = api_followups.due(state, as_of, config=config, lifecycle_engine=lifecycle_engine)
    fmt = default_format(fmt)
    if fmt == "jsonl":  # one write: a million due follow-ups are a million lines
        dumps = json.JSONEncoder(ensure_ascii=False).encode
        if found:
            click.echo("\n".join(dumps(d.to_dict()) for d in found))
    elif fmt == "csv":
        out = csv.writer(sys.stdout, lineterminator="\n")
        out.writerow(_COLUMNS)
        out.writerows(_cells(d) for d in found)
    else:
        _table(found)
    click.echo(f"{len(found)} follow-up{'s' if len(found) != 1 else ''} due as of {as_of}",
               err=True)
    return 0


def _cells(d: Due) -> list[Any]:
    return [*d[:-1], json.dumps(d.action, ensure_ascii=False)]


def _table(found: list[Due]) -> None:
    rows = [[str(c) if c is not None else "" for c in _cells(d)] for d in found]
    widths = [max(len(r[i]) for r in [list(_COLUMNS), *rows]) for i in range(len(_COLUMNS))]
    for row in [list(_COLUMNS), *rows]:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def follow_up(*, dry_run: bool, fmt: str | None, **options: Any) -> int:
    """Carry out what is due (or, with ``dry_run``, show it); the exit code."""
    request = api_followups.FollowUpRequest(
        dry_run=dry_run, fmt=default_format(fmt, out=options.get("out")), on_wait=waiting,
        **options)
    with reported():
        summary = api_followups.follow_up(request)
    verb = "dry run: nothing written" if dry_run else f"applied to {request.state}"
    click.echo(f"{summary.render()}\n({verb})", err=True)
    return 1 if summary.error_rows else 0


def _options(func: Any) -> Any:
    for option in reversed((
        click.option("--state", required=True, type=click.Path(dir_okay=False, path_type=str),
                     help="The state file, or a postgresql://… URL."),
        click.option("--as-of", "as_of", required=True, callback=iso_date, metavar="DATE",
                     help="The day (YYYY-MM-DD) the follow-ups are due as of."),
        config_option,
        lifecycle_engine_option("follow-ups"),
    )):
        func = option(func)
    return func


@click.command("due")
@_options
@click.option("--format", "fmt", type=click.Choice(["table", "jsonl", "csv"]), default=None,
              help="Default: table on a terminal, jsonl otherwise.")
def due_command(**options: Any) -> None:
    """List the follow-ups due as of DATE (customers left untouched); writes nothing."""
    sys.exit(due(**options))


@click.command("follow-up")
@_options
@click.option("--dry-run", "dry_run", is_flag=True, help="Show the actions; write nothing.")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv", "table"]), default=None,
              help="Default: table on a terminal, jsonl otherwise.")
@click.option("--out", "out", default=None, type=click.Path(dir_okay=False, path_type=str),
              help="Write the decisions to this file (atomically) instead of stdout; "
                   "'-' is stdout.")
@click.option("--csv-raw", "csv_raw", is_flag=True,
              help="CSV: write cells starting with = + - @ as they are (no leading ').")
def follow_up_command(**options: Any) -> None:
    """Carry out the follow-ups due as of DATE: reassign, change status or alert, one
    decision row each, committed like apply; run again for the same day, it changes
    nothing."""
    sys.exit(follow_up(**options))
