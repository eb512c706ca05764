"""``sfa schema``: the JSON Schema of a configuration file."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from sfa_rules.cli.options import config_option
from sfa_rules.config.models import ConfigFile

__all__ = ["command", "run"]


def run(config: Path | None = None) -> int:
    """Print the schema; returns the exit code (always 0)."""
    schema = ConfigFile.model_json_schema(by_alias=True)
    click.echo(json.dumps(schema, indent=2, ensure_ascii=False))
    return 0


@click.command("schema")
@config_option
def command(config: Path | None) -> None:
    """Print the JSON Schema of a configuration file (for editor completion).

    The schema is the same for every configuration; --config is accepted like
    everywhere else."""
    sys.exit(run(config))
