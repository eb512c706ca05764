"""``sfa report FILES... --out report.html``: the run as a page people read (SPEC §20).

A dry run (nothing written) whose outcome is one self-contained HTML file: charts of
the assignments, loads, customers and forecast, the rows in error and with warnings,
and the configuration's problems. Exit codes as ``sfa dry-run``: 0, or 1 when a row is
in error (the report is still written) or the configuration has errors (the page then
lists them, and nothing else), 2 for a usage error (the charting library not installed
included).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from sfa_rules import api
from sfa_rules.cli.options import (
    fail,
    note_missing_state,
    progress_for,
    read_state_option,
    record_options,
    reported,
)
from sfa_rules.config.loader import resolve_folder
from sfa_rules.forecast import PERIODS
from sfa_rules.report import html
from sfa_rules.report.collect import ReportData, collect
from sfa_rules.report.summary import Summary
from sfa_rules.report.writers import open_output

__all__ = ["command", "run"]


def run(files: tuple[str, ...], *, out: str, config: Path | None, state: str | None,
        as_of: str | None, type_: str | None, lifecycle_engine: str, reassign: bool,
        period: str, title: str, import_id: str | None = None) -> int:
    """The body of ``sfa report``; returns the exit code."""
    try:
        html.check_available()
    except html.ReportUnavailable as exc:
        fail(str(exc))
    folder = resolve_folder(config)
    _, _, problems = api.validate_config(folder)
    if any(p.severity == "error" for p in problems):
        # Nothing can be decided: the page lists the problems (so does stderr).
        _write(html.render(ReportData(Summary(), problems=problems, inputs=files,
                                      config=str(folder)), title=title), out)
        for problem in problems:
            click.echo(str(problem), err=True)
        fail(f"the configuration has errors: nothing was processed; {out} lists them", 1)
    with reported():
        engine = api.open_engine(config, lifecycle_engine)
        rows: Any = api.read_rows(files, type_, engine, import_id)
        wrap = progress_for(files)
        rows = wrap(rows) if wrap is not None else rows
        with engine, api.session_for(engine, state, as_of=as_of,
                                     reassign=reassign) as session:
            data = collect(session, rows, period=period, problems=problems, inputs=files)
        _write(html.render(data, title=title), out)
    click.echo(f"{data.summary.render()}\n(dry run: nothing written; report in {out})", err=True)
    note_missing_state(state)
    return 1 if data.summary.error_rows else 0


def _write(page: str, out: str) -> None:
    with reported(), open_output(out) as stream:
        stream.write(page)


@click.command("report")
@record_options
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=str),
              help="The HTML file to write (atomically).")
@read_state_option("Read this state (never written). Default: an empty state.")
@click.option("--reassign", is_flag=True,
              help="Redo the assignment of known records (owner_locked ones keep their owner).")
@click.option("--period", type=click.Choice(PERIODS), default="quarter", show_default=True,
              help="The forecast's periods.")
@click.option("--title", default="sfa report", show_default=True, help="The page's title.")
def command(files: tuple[str, ...], **options: Any) -> None:
    """Write the run as one self-contained HTML page: charts of assignments, loads,
    customers and forecast, the rows in error and with warnings, the configuration's
    problems (a dry run: nothing is written but the page)."""
    sys.exit(run(files, **options))
