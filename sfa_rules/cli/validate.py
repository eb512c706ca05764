"""``sfa validate``: every problem of the configuration (SPEC §2, §15)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from sfa_rules import api
from sfa_rules.cli.options import config_option
from sfa_rules.report.summary import problem_summary as summary

__all__ = ["command", "run", "summary"]


def run(config: Path | None, fmt: str, strict: bool) -> int:
    """The body of ``sfa validate``; returns the exit code."""
    result = api.validate(config, strict=strict)
    if fmt == "json":
        click.echo(json.dumps([p.to_dict() for p in result.problems], indent=2,
                              ensure_ascii=False))
    else:
        for problem in result.problems:
            click.echo(str(problem))
    click.echo(summary(result.problems, result.files), err=True)
    return 0 if result.ok else 1


@click.command("validate")
@config_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="One problem per line, or a JSON list.")
@click.option("--strict", is_flag=True, help="Warnings are errors (exit 1).")
def command(**options: Any) -> None:
    """Load and check the configuration; report every problem, not just the first.

    Exit 0 when there is no error (warnings allowed), 1 when there is any (or any
    warning with --strict), 2 for a usage error.
    """
    sys.exit(run(**options))
