"""``sfa explain``: the decisions and full traces of one record's rows."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from sfa_rules import api
from sfa_rules.cli.options import (
    note_missing_state,
    progress_for,
    read_state_option,
    record_options,
    reported,
)
from sfa_rules.report import explain as explain_text

__all__ = ["command", "run"]


def run(files: tuple[str, ...], record_id: str, fmt: str | None = None, **options: Any) -> int:
    """Print the rows with that id (or customer), as text (one line per rule tried) or
    JSON; 1 when there is none, or one of them is in error."""
    with reported():
        found = [d.to_dict() for d in
                 api.explain(files, record_id, wrap_rows=progress_for(files), **options)]
    if (fmt or ("text" if sys.stdout.isatty() else "json")) == "text":
        if found:
            click.echo(explain_text.render(found))
    else:
        click.echo(json.dumps(found, indent=2, ensure_ascii=False))
    if not found:
        click.echo(f"sfa: no row with id or customer {record_id!r}", err=True)
    note_missing_state(options.get("state"))
    return 0 if found and not any(d["error"] for d in found) else 1


@click.command("explain")
@record_options
@click.option("--id", "record_id", required=True, help="The id (or customer id) to explain.")
@read_state_option("Read this state (never written).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default=None,
              help="One line per rule tried, or JSON. Default: text on a terminal, json otherwise.")
def command(files: tuple[str, ...], record_id: str, **options: Any) -> None:
    """The decisions and full traces of the rows with that id (or customer)."""
    sys.exit(run(files, record_id, **options))
