"""The ``sfa`` command (SPEC §10): the only module that imports click, prints or exits.

Each command is a plain function returning its exit code; ``main`` is the click group
that other commands are added to with ``@main.command()``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from .errors import Problem
from .loader import resolve_folder, validate
from .models import ConfigFile

CONFIG_HELP = "Configuration folder (holding rules/ and territories/). Default: SPEC §2."


def config_option(func: Any) -> Any:
    """``--config DIR``: an existing folder (click exits 2 with a clear message if not)."""
    return click.option(
        "--config", "config", type=click.Path(exists=True, file_okay=False, path_type=Path),
        default=None, help=CONFIG_HELP,
    )(func)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="sfa-rules")
def main() -> None:
    """Sales-force automation rules: validate, dry-run and apply YAML-configured rules."""


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def summary(problems: list[Problem], files: int) -> str:
    """``3 errors, 1 warning in 7 files`` (plus ``, 2 notes`` for informational ones)."""
    count = {"error": 0, "warning": 0, "info": 0}
    for problem in problems:
        count[problem.severity] = count.get(problem.severity, 0) + 1
    notes = f", {_plural(count['info'], 'note')}" if count["info"] else ""
    return (f"{_plural(count['error'], 'error')}, {_plural(count['warning'], 'warning')}"
            f"{notes} in {_plural(files, 'file')}")


@main.command("validate")
@config_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="One problem per line, or a JSON list.")
@click.option("--strict", is_flag=True, help="Warnings are errors (exit 1).")
def validate_command(config: Path | None, fmt: str, strict: bool) -> None:
    """Load and check the configuration; report every problem, not just the first.

    Exit 0 when there is no error (warnings allowed), 1 when there is any (or any
    warning with --strict), 2 for a usage error.
    """
    sys.exit(run_validate(config, fmt, strict))


def run_validate(config: Path | None, fmt: str, strict: bool) -> int:
    """The body of ``sfa validate``; returns the exit code."""
    _, sm, problems = validate(resolve_folder(config))
    if strict:
        problems = [
            Problem(p.file, p.line, p.column, "error", p.code, p.message)
            if p.severity == "warning" else p
            for p in problems
        ]
    problems.sort()
    if fmt == "json":
        click.echo(json.dumps([p.to_dict() for p in problems], indent=2, ensure_ascii=False))
    else:
        for problem in problems:
            click.echo(str(problem))
    click.echo(summary(problems, len(sm.files)), err=True)
    return 1 if any(p.severity == "error" for p in problems) else 0


@main.command("schema")
def schema_command() -> None:
    """Print the JSON Schema of a configuration file (for editor completion)."""
    schema = ConfigFile.model_json_schema(by_alias=True)
    click.echo(json.dumps(schema, indent=2, ensure_ascii=False))
