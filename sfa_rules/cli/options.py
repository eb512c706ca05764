"""What the commands share: options, the mapping of library errors to exit codes,
the progress line (``progress_for``, from :mod:`cli.progress`) (SPEC §10). Only
``sfa_rules.cli`` imports click."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any, NoReturn, TypeVar, overload

import click

from sfa_rules import api
from sfa_rules.api import UnknownTerritory
from sfa_rules.cli.progress import progress_for as progress_for  # the commands take it here
from sfa_rules.cli.progress import progress_option
from sfa_rules.errors import ConfigError, EngineUnavailable
from sfa_rules.records.readers import InputError
from sfa_rules.report.writers import OutputError
from sfa_rules.state.store import StateError

F = TypeVar("F", bound=Callable[..., Any])

CONFIG_HELP = ("Configuration folder (holding rules/ and territories/). Default: ./rules and "
               "./territories when the current folder has them, else the shipped configuration.")


def config_option(func: F) -> F:
    """``--config DIR``: an existing folder (click exits 2 with a clear message if not)."""
    return click.option(
        "--config", "config", type=click.Path(exists=True, file_okay=False, path_type=Path),
        default=None, help=CONFIG_HELP,
    )(func)


def iso_date(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """An ``--as-of`` value: a date (YYYY-MM-DD), else a usage error."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None


def as_of_option(help_text: str) -> Callable[[F], F]:
    """``--as-of DATE``."""
    return click.option("--as-of", "as_of", default=None, callback=iso_date, metavar="DATE",
                        help=help_text)


def lifecycle_engine_option(what: str) -> Callable[[F], F]:
    """``--lifecycle-engine auto|durable|native``: what runs ``what``."""
    return click.option("--lifecycle-engine", "lifecycle_engine", default="auto",
                        type=click.Choice(["auto", "durable", "native"]), show_default=True,
                        help=f"Run {what} on durable-rules or the built-in evaluator.")


@overload
def record_options(func: F, *, files_required: bool = True) -> F: ...
@overload
def record_options(*, files_required: bool) -> Callable[[F], F]: ...


def record_options(func: F | None = None, *, files_required: bool = True) -> Any:
    """The options of every command that reads records (SPEC §10); as
    ``@record_options(files_required=False)`` FILES may be left out."""
    if func is None:
        return lambda f: record_options(f, files_required=files_required)
    for option in reversed((
        click.argument("files", nargs=-1, required=files_required, type=click.Path(path_type=str)),
        config_option,
        click.option("--type", "type_", default=None, metavar="TYPE",
                     help="Record type of rows with no `type` column (lead, opportunity, ...)."),
        click.option("--import", "import_id", default=None, metavar="ID",
                     help="Read every file with this import of the configuration (its "
                          "`imports:`); FILE::ID names one for one file."),
        as_of_option("The run's date (YYYY-MM-DD) for rows without `created`. Default: today."),
        lifecycle_engine_option("transitions"),
        progress_option,
    )):
        func = option(func)
    return func


def note_missing_state(state: str | None) -> None:
    """Say on stderr, after a run that read ``state``, that it does not exist: a typo
    in its path would otherwise read as an empty state, silently."""
    if state is not None and not api.state_exists(state):
        click.echo(f"sfa: no state at {state}: read as an empty state (`sfa apply ... "
                   f"--state {state}` creates it)", err=True)


def read_state_option(help_text: str) -> Callable[[F], F]:
    """``--state``, read and never written (see ``note_missing_state``)."""
    return click.option("--state", default=None, help=help_text,
                        type=click.Path(dir_okay=False, path_type=str))


def fail(message: str, code: int = 2) -> NoReturn:
    """``sfa: message`` on stderr, then exit (2: a usage error)."""
    click.echo(f"sfa: {message}", err=True)
    sys.exit(code)


def waiting(message: str) -> None:
    """A run that waits for another on its state says so (it may wait long)."""
    click.echo(f"sfa: {message}", err=True)


@contextmanager
def reported() -> Iterator[None]:
    """The library's exceptions as the CLI reports them: a configuration with errors
    lists its problems and exits 1; the rest are usage errors (exit 2)."""
    try:
        yield
    except ConfigError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        fail("the configuration has errors: nothing was processed (see `sfa validate`)", 1)
    except InputError as exc:
        fail("; ".join(exc.problems))
    except (EngineUnavailable, StateError, OutputError, UnknownTerritory) as exc:
        fail(str(exc))


def default_format(fmt: str | None, other: str = "jsonl", out: str | None = None) -> str:
    """``--format`` when given, else ``table`` when the output (stdout, not an ``--out``
    file) is a terminal and ``other`` elsewhere."""
    to_terminal = (out is None or out == "-") and sys.stdout.isatty()
    return fmt or ("table" if to_terminal else other)
