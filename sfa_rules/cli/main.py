"""The ``sfa`` command (SPEC §10): the group of the commands, one module each.

Each command module holds a plain function returning the exit code (its ``run``)
and the click command that parses options, calls it and exits with its code. The
work itself is the library's (:mod:`sfa_rules.api`).
"""

from __future__ import annotations

import click

from sfa_rules.cli import (
    decide,
    diff,
    explain,
    followups,
    forecast,
    inspect,
    report,
    schema,
    state,
    validate,
)
from sfa_rules.cli.safety import SafeGroup


@click.group(cls=SafeGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="sfa-rules")
def main() -> None:
    """Sales-force automation rules: validate, dry-run and apply YAML-configured rules."""


for _command in (validate.command, schema.command, decide.dry_run_command,
                 decide.apply_command, explain.command, forecast.command, diff.command,
                 inspect.command, report.command, state.group, followups.due_command,
                 followups.follow_up_command):
    main.add_command(_command)

__all__ = ["main"]
