"""``sfa state show|next|history|reset``: rotations ("who is next") and loads (SPEC §9)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from sfa_rules import api
from sfa_rules.cli.history import history
from sfa_rules.cli.options import (
    F,
    as_of_option,
    config_option,
    note_missing_state,
    reported,
    waiting,
)

__all__ = ["group", "next_", "reset", "show"]

AS_OF_HELP = "The date eligibility is judged on (away periods). Default: today."


def show(state: str, config: Path | None, as_of: str | None, fmt: str) -> int:
    """Each territory's rotation and each rep's open records."""
    _existing(state)
    with reported():
        rows, loads = api.rotations(state, config=config, as_of=as_of)
    if fmt == "json":
        click.echo(json.dumps({"rotations": rows, "loads": loads}, indent=2))
        return 0
    click.echo("territory".ljust(24) + "distribution".ljust(14) + "next")
    for r in rows:
        click.echo(f"{r['territory']:<24}{r['distribution']:<14}{r['next'] or '(nobody eligible)'}")
    click.echo("\nrep".ljust(25) + "open records")
    for rep, count in sorted(loads.items()):
        click.echo(f"{rep:<24}{count:>12,}")
    return 0


def next_(territory: str, count: int, state: str, config: Path | None, as_of: str | None) -> int:
    """Who would get the next ``count`` records of the territory."""
    with reported():
        picks = api.next_owners(territory, count, state, config=config, as_of=as_of)
    for i, rep in enumerate(picks, 1):
        click.echo(f"{i:>3}  {rep}")
    if len(picks) < count:
        click.echo(f"sfa: only {len(picks)} of {count}: nobody else is eligible", err=True)
    note_missing_state(state)
    return 0


def reset(territory: str, state: str, config: Path | None) -> int:
    """Restart the territory's rotation."""
    _existing(state)
    with reported():
        api.reset_rotation(territory, state, config=config, on_wait=waiting)
    click.echo(f"rotation of {territory} reset in {state}", err=True)
    return 0


def _existing(state: str) -> None:
    with reported():
        api.require_state(state)


def state_option(func: F) -> F:
    """``--state FILE`` (default: the apply's default state)."""
    return click.option("--state", default=api.DEFAULT_STATE, show_default=True,
                        type=click.Path(dir_okay=False, path_type=str),
                        help="The state file, or a postgresql://… URL.")(func)


@click.group("state")
def group() -> None:
    """Look at or reset the state: rotations ("who is next"), loads and customers'
    histories."""


@group.command("show")
@state_option
@config_option
@as_of_option(AS_OF_HELP)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
def show_command(**options: Any) -> None:
    """Each territory's rotation (who is next) and each rep's open records."""
    sys.exit(show(**options))


@group.command("next")
@click.argument("territory")
@click.option("-n", "count", default=10, show_default=True, type=click.IntRange(min=1))
@state_option
@config_option
@as_of_option(AS_OF_HELP)
def next_command(**options: Any) -> None:
    """Who would get the next N records of TERRITORY (the rotation does not advance)."""
    sys.exit(next_(**options))


@group.command("history")
@click.argument("customer_id")
@state_option
@config_option
@click.option("--format", "fmt", type=click.Choice(["table", "jsonl"]), default="table",
              show_default=True)
def history_command(customer_id: str, state: str, config: Path | None, fmt: str) -> None:
    """A customer's history in date order: assignments, status changes, activities,
    contacts and opportunities, each with its date and source row. It is what the state
    recorded, whatever the configuration is now: --config is taken, as by every
    command, and not read."""
    del config
    _existing(state)
    sys.exit(history(customer_id, state, fmt))


@group.command("reset")
@click.option("--territory", "territory", required=True,
              help="The territory whose rotation restarts.")
@state_option
@config_option
def reset_command(**options: Any) -> None:
    """Restart a territory's rotation (its next record goes to its first member)."""
    sys.exit(reset(**options))
