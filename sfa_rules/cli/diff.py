"""``sfa diff``: the rows whose decisions change between two configurations (SPEC §15)."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
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
)
from sfa_rules.report.diff import DiffResult
from sfa_rules.report.output import open_output

__all__ = ["command", "run"]


def run(files: tuple[str, ...], config: Path | None, type_: str | None, as_of: str | None,
        lifecycle_engine: str, base: Path, state: str | None, fmt: str | None,
        reassign: bool, exit_code: bool, import_id: str | None = None,
        out: str | None = None, explain: bool = False) -> int:
    """Print the rows that change and a summary; 1 when a row is in error under either
    configuration, or with ``exit_code`` when any row changes."""
    fmt = default_format(fmt, out=out)
    result = DiffResult()
    changed = api.diff(files, result, base=base, config=config, state=state, as_of=as_of,
                       type_=type_, lifecycle_engine=lifecycle_engine, reassign=reassign,
                       wrap_rows=progress_for(files), import_id=import_id, explain=explain)
    with reported(), open_output(out) as stream:
        if fmt == "jsonl":
            for row in changed:
                stream.write(json.dumps(row, ensure_ascii=False) + "\n")
        elif fmt == "csv":  # the table's rows: one per field that changes
            writer = csv.writer(stream, lineterminator="\n")
            writer.writerow(("source", "row", "id", "field", "before", "after"))
            writer.writerows((r["source"], r["row"], r["id"], name, *values)
                             for r, name, values in _moves(changed))
        else:
            stream.write("".join(line + "\n" for line in _table(changed)))
    click.echo("\n".join(result.summary()), err=True)
    note_missing_state(state)
    errors = result.errors_before or result.errors_after
    return 1 if errors or (exit_code and result.changed) else 0


def _moves(changed: Iterable[dict[str, Any]]
           ) -> Iterator[tuple[dict[str, Any], str, tuple[Any, Any]]]:
    """Per changed row, each field that changes (a trace is not a field) and its two
    values."""
    for row in changed:
        for name, before in row["before"].items():
            after = row["after"][name]
            if name != "trace" and before != after:
                yield row, name, (before, after)


def _table(changed: Iterable[dict[str, Any]]) -> list[str]:
    header = ("source:row", "id", "field", "before", "after")
    lines = [(f"{row['source']}:{row['row']}", _cell(row["id"]), name, _cell(a), _cell(b))
             for row, name, (a, b) in _moves(changed)]
    widths = [max(len(r[i]) for r in (header, *lines)) for i in range(len(header))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in (header, *lines)]


def _cell(value: Any) -> str:
    return "-" if value is None else str(value)


@click.command("diff")
@record_options
@click.option("--base", "base", required=True,
              type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="The configuration to compare against (the one live today).")
@read_state_option("The starting state of both sides (never written).")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv", "table"]), default=None,
              help="Default: table on a terminal, jsonl otherwise; csv: the table's rows.")
@click.option("--out", "out", default=None, type=click.Path(dir_okay=False, path_type=str),
              help="Write the changed rows to this file (atomically) instead of stdout; "
                   "'-' is stdout.")
@click.option("--reassign", is_flag=True, help="Redo the assignment of known records.")
@click.option("--explain", is_flag=True,
              help="Add each side's trace to the changed rows (jsonl): why each decided so.")
@click.option("--exit-code", "exit_code", is_flag=True, help="Exit 1 when any row differs.")
def command(**options: Any) -> None:
    """Decisions under --base and --config side by side: the rows that change."""
    sys.exit(run(**options))
