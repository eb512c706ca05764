"""``sfa inspect FILE... [--config DIR]``: profile an export, propose its ``imports:``.

stdout is a configuration file (the profile as comments, then the proposed imports), so
that ``sfa inspect f.csv > rules/imports.yaml`` works; stderr has a line for people.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from sfa_rules import api_inspect
from sfa_rules.cli.options import config_option, reported

__all__ = ["command", "run"]


def run(files: tuple[str, ...], config: Path | None) -> int:
    """The body of ``sfa inspect``; returns the exit code."""
    with reported():
        found = api_inspect.inspect(files, config)
    if found.config_errors:
        click.echo("sfa: the configuration has errors (see `sfa validate`); profiled "
                   "against what of it loads", err=True)
    click.echo(found.text, nl=False)
    click.echo(f"sfa inspect: {found.files} file(s) profiled, {found.unknown} unknown "
               "value(s); the proposed imports: are on stdout (keep them as "
               "rules/imports.yaml)", err=True)
    return 1 if found.config_errors else 0


@click.command("inspect")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=str))
@config_option
def command(files: tuple[str, ...], config: Path | None) -> None:
    """Profile the columns of FILES and print a proposed `imports:` entry (YAML).

    Per file: each column's kind (text, number, date with its format), empty share and
    the field it would map to, and the values the configuration does not know. Keep
    the output as rules/imports.yaml:  sfa inspect FILE... > rules/imports.yaml
    """
    sys.exit(run(files, config))
