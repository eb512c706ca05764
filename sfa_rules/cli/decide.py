"""``sfa dry-run`` and ``sfa apply``: a decision per row (SPEC §8, §9, §10)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click

from sfa_rules import api
from sfa_rules.cli.options import (
    default_format,
    note_missing_state,
    progress_for,
    read_state_option,
    record_options,
    reported,
    waiting,
)

__all__ = ["apply_command", "dry_run_command", "run"]


def run(files: tuple[str, ...], *, apply: bool, fmt: str | None, **options: Any) -> int:
    """The body of ``sfa dry-run`` (``apply=False``) and ``sfa apply``; the exit code."""
    request = api.RunRequest(files, apply=apply, fmt=default_format(fmt, out=options.get("out")),
                             on_wait=waiting, **options)
    with reported():
        summary = api.run_decisions(request, progress_for(files))
    verb = "applied to " + str(request.state) if apply else "dry run: nothing written"
    click.echo(f"{summary.render()}\n({verb})", err=True)
    if not apply:
        note_missing_state(request.state)
    return 1 if summary.error_rows else 0


def decision_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The options of the commands that print decisions."""
    for option in reversed((
        record_options,
        click.option("--format", "fmt", type=click.Choice(["jsonl", "csv", "table"]), default=None,
                     help="Default: table on a terminal, jsonl otherwise."),
        click.option("--out", "out", default=None, type=click.Path(dir_okay=False, path_type=str),
                     help="Write the decisions to this file (atomically) instead of stdout; "
                          "'-' is stdout."),
        click.option("--csv-raw", "csv_raw", is_flag=True,
                     help="CSV: write cells starting with = + - @ as they are (no leading ')."),
        click.option("--explain", is_flag=True, help="Add each row's trace: every rule tried and why."),
        click.option("--reassign", is_flag=True,
                     help="Redo the assignment of known records (owner_locked ones keep their owner)."),
    )):
        func = option(func)
    return func


@click.command("dry-run")
@decision_options
@read_state_option("Read this state (never written). Default: an empty state.")
def dry_run_command(files: tuple[str, ...], **options: Any) -> None:
    """Decide every row of FILES; write no state."""
    sys.exit(run(files, apply=False, **options))


@click.command("apply")
@decision_options
@click.option("--state", default=api.DEFAULT_STATE, show_default=True,
              type=click.Path(dir_okay=False, path_type=str),
              help="The state to update: a file, or postgresql://… for a shared one.")
def apply_command(files: tuple[str, ...], **options: Any) -> None:
    """Decide every row of FILES and commit the state (in crash-safe batches)."""
    sys.exit(run(files, apply=True, **options))
