"""``sfa forecast``: the weighted pipeline per period (SPEC §7)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from sfa_rules import api
from sfa_rules.cli.options import default_format, progress_for, record_options, reported
from sfa_rules.forecast import GROUP_BYS, PERIODS, to_csv, to_json, to_table

__all__ = ["command", "run"]


def run(files: tuple[str, ...], config: Path | None, type_: str | None, as_of: str | None,
        lifecycle_engine: str, state: str | None, by: str, period: str,
        fmt: str | None, import_id: str | None = None) -> int:
    """Print the forecast and the rows in error; 1 when there is any error."""
    with reported():
        report, failed = api.forecast(
            files, by=by, period=period, config=config, state=state, as_of=as_of,
            type_=type_, lifecycle_engine=lifecycle_engine, wrap_rows=progress_for(files),
            import_id=import_id,
        )
    fmt = default_format(fmt, "json")
    if fmt == "json":
        click.echo(json.dumps(to_json(report), indent=2))
    else:
        click.echo(to_csv(report) if fmt == "csv" else to_table(report), nl=fmt != "csv")
    for decision in failed:
        error = decision.error or {}
        click.echo(f"{decision.source}:{decision.row}: error: {error.get('message')} "
                   f"[{error.get('code')}]", err=True)
    for issue in (*report.warnings, *report.errors):
        severity = "error" if issue in report.errors else "warning"
        click.echo(f"{issue.source}:{issue.row or '-'}: {severity}: {issue.message} [{issue.code}]",
                   err=True)
    return 1 if failed or report.errors else 0


@click.command("forecast")
@record_options
@click.option("--state", default=None, type=click.Path(dir_okay=False, path_type=str),
              help="Include the opportunities of this state (never written).")
@click.option("--by", type=click.Choice(GROUP_BYS), default="owner", show_default=True)
@click.option("--period", type=click.Choice(PERIODS), default="quarter", show_default=True)
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default=None,
              help="Default: table on a terminal, json otherwise.")
def command(**options: Any) -> None:
    """Weighted pipeline by owner, territory, status or category, per period (SPEC §7)."""
    sys.exit(run(**options))
