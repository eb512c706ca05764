"""``sfa forecast``: the weighted pipeline per period (SPEC §7, §17)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from sfa_rules import api
from sfa_rules.cli.options import (
    default_format,
    fail,
    note_missing_state,
    progress_for,
    record_options,
    reported,
)
from sfa_rules.forecast import GROUP_BYS, PERIODS
from sfa_rules.report.forecast import forecast_text
from sfa_rules.report.problems import by_code

__all__ = ["command", "run"]


def run(files: tuple[str, ...], config: Path | None, type_: str | None, as_of: str | None,
        lifecycle_engine: str, state: str | None, by: str, period: str,
        fmt: str | None, import_id: str | None = None, csv_raw: bool = False) -> int:
    """Print the forecast, and its problems per code on stderr; 1 when there is any
    error. With no FILES, the forecast of what ``state`` holds."""
    if not files and state is None:
        fail("forecast needs FILES, or --state PATH to forecast what a state holds")
    with reported():
        if not files and state is not None:  # what it holds: a file, or a PostgreSQL URL
            api.require_state(state)
        report, _ = api.forecast(
            files, by=by, period=period, config=config, state=state, as_of=as_of,
            type_=type_, lifecycle_engine=lifecycle_engine, wrap_rows=progress_for(files),
            import_id=import_id,
        )
    click.echo(forecast_text(report, default_format(fmt, "json"), raw=csv_raw), nl=False)
    for line in by_code(report.errors, report.warnings, "forecast"):
        click.echo(line, err=True)
    note_missing_state(state)
    return 1 if report.errors else 0


@click.command("forecast")
@record_options(files_required=False)
@click.option("--state", default=None, type=click.Path(dir_okay=False, path_type=str),
              help="Include the opportunities of this state (never written); with no "
                   "FILES, forecast what it holds.")
@click.option("--by", type=click.Choice(GROUP_BYS), default="owner", show_default=True)
@click.option("--period", type=click.Choice(PERIODS), default="quarter", show_default=True)
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default=None,
              help="Default: table on a terminal, json otherwise.")
@click.option("--csv-raw", "csv_raw", is_flag=True,
              help="CSV: write groups starting with = + - @ as they are (no leading ').")
def command(**options: Any) -> None:
    """Weighted pipeline by owner, territory, status, category, manager or team, per
    period. FILES may be left out with --state."""
    sys.exit(run(**options))
