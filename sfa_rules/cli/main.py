"""The ``sfa`` command (SPEC §10): the only module that imports click, prints or exits.

Each command is a plain function returning its exit code; ``main`` is the click group
that other commands are added to with ``@main.command()``.
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
import sys
from collections.abc import Iterable, Iterator
from datetime import date
from pathlib import Path
from typing import Any, NoReturn

import click

from sfa_rules.report.diff import DiffResult, diff
from sfa_rules.engine.core import Engine, Session, load
from sfa_rules.errors import ConfigError, Problem, did_you_mean
from sfa_rules.forecast import GROUP_BYS, PERIODS, to_csv, to_json, to_table
from sfa_rules.lifecycle.durable import EngineUnavailable
from sfa_rules.config.loader import resolve_folder, validate
from sfa_rules.config.models import ConfigFile
from sfa_rules.records.readers import InputError, InputRow, read
from sfa_rules.report.writers import OutputError, make_writer, open_output
from sfa_rules.state.store import MemoryStore, SQLiteStore, StateError
from sfa_rules.report.summary import Summary

DEFAULT_STATE = "sfa-state.db"
PROGRESS_BYTES = 5_000_000  # inputs smaller than this finish before a progress bar helps

CONFIG_HELP = ("Configuration folder (holding rules/ and territories/). Default: ./rules and "
               "./territories when the current folder has them, else the shipped configuration.")


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
@config_option
def schema_command(config: Path | None) -> None:
    """Print the JSON Schema of a configuration file (for editor completion).

    The schema is the same for every configuration; --config is accepted like
    everywhere else."""
    schema = ConfigFile.model_json_schema(by_alias=True)
    click.echo(json.dumps(schema, indent=2, ensure_ascii=False))


# -- commands that read records ---------------------------------------------------


def _iso_date(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None


def record_options(func: Any) -> Any:
    """The options of every command that reads records (SPEC §10)."""
    for option in reversed((
        click.argument("files", nargs=-1, required=True, type=click.Path(path_type=str)),
        config_option,
        click.option("--type", "type_", default=None, metavar="TYPE",
                     help="Record type of rows with no `type` column (lead, opportunity, ...)."),
        click.option("--as-of", "as_of", default=None, callback=_iso_date, metavar="DATE",
                     help="The run's date (YYYY-MM-DD) for rows without `created`. Default: today."),
        click.option("--lifecycle-engine", "lifecycle_engine", default="auto",
                     type=click.Choice(["auto", "durable", "native"]), show_default=True,
                     help="Run transitions on durable-rules or the built-in evaluator."),
    )):
        func = option(func)
    return func


def decision_options(func: Any) -> Any:
    """The options of the commands that print decisions."""
    for option in reversed((
        click.option("--format", "fmt", type=click.Choice(["jsonl", "csv", "table"]), default=None,
                     help="Default: table on a terminal, jsonl otherwise."),
        click.option("--out", "out", default=None, type=click.Path(dir_okay=False, path_type=str),
                     help="Write the decisions to this file (atomically) instead of stdout."),
        click.option("--explain", is_flag=True, help="Add each row's trace: every rule tried and why."),
        click.option("--reassign", is_flag=True,
                     help="Redo the assignment of known records (owner_locked ones keep their owner)."),
    )):
        func = option(func)
    return func


def _fail(message: str, code: int = 2) -> NoReturn:
    click.echo(f"sfa: {message}", err=True)
    sys.exit(code)


def _engine(config: Path | None, lifecycle_engine: str) -> Engine:
    """The compiled configuration; a broken one prints its problems and exits 1."""
    try:
        engine = load(config, lifecycle_engine=lifecycle_engine)  # type: ignore[arg-type]
    except ConfigError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        _fail("the configuration has errors: nothing was processed (see `sfa validate`)", 1)
    except EngineUnavailable as exc:
        _fail(str(exc))
    # The compiled configuration lives as long as the command: the collector need not
    # scan it again and again (with 10,000 territories that cost a tenth of a run), and
    # rows make few cycles, so young collections can be rarer.
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
    return engine


def _rows(files: tuple[str, ...], type_: str | None, engine: Engine) -> Iterator[InputRow]:
    try:
        rows = read(files, type_override=type_, aliases=engine.config.settings.fields)
    except InputError as exc:
        _fail("; ".join(exc.problems))
    if not sys.stderr.isatty() or sum(_size(f) for f in files) < PROGRESS_BYTES:
        return rows
    return _progress(rows)


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _progress(rows: Iterator[InputRow]) -> Iterator[InputRow]:
    """A row counter on stderr (a terminal only): large inputs take a while."""
    n = 0
    for n, row in enumerate(rows, 1):
        if n % 50_000 == 0:
            click.echo(f"\r{n:,} rows…", err=True, nl=False)
        yield row
    if n >= 50_000:
        click.echo("\r" + " " * 24 + "\r", err=True, nl=False)


def _format(fmt: str | None) -> str:
    return fmt or ("table" if sys.stdout.isatty() else "jsonl")


def _store(state: str | None, *, dry_run: bool) -> Any:
    try:
        return SQLiteStore(state, dry_run=dry_run)
    except StateError as exc:
        _fail(str(exc))


def digests(files: Iterable[str]) -> dict[str, str]:
    """Each input file's content digest: what identifies its rows across runs."""
    out = {}
    for name in files:
        with open(name, "rb") as stream:
            out[name] = hashlib.file_digest(stream, "sha256").hexdigest()
    return out


def run_key(engine: Engine, sources: dict[str, str], options: Iterable[object]) -> str:
    """What identifies a run for resuming: the configuration, the inputs, the options."""
    digest = hashlib.sha256()
    for sub in ("rules", "territories"):
        for path in sorted((engine.folder / sub).rglob("*.y*ml")):
            digest.update(path.read_bytes())
    digest.update(repr(sorted(sources.items())).encode())
    digest.update(repr(tuple(options)).encode())
    return digest.hexdigest()


def session_for(engine: Engine, files: tuple[str, ...], store: Any, **options: Any) -> Session:
    """A session whose rows are known by their files' contents (SPEC §9 idempotency)."""
    session = Session(engine, store, **options)
    session.identify_sources(digests(files))
    return session


def run_decisions(
    files: tuple[str, ...], *, config: Path | None, state: str | None, as_of: str | None,
    type_: str | None, lifecycle_engine: str, fmt: str | None, out: str | None,
    explain: bool, reassign: bool, apply: bool,
) -> int:
    """The body of ``sfa dry-run`` and ``sfa apply``; returns the exit code."""
    engine = _engine(config, lifecycle_engine)
    rows = _rows(files, type_, engine)
    store = _store(state, dry_run=not apply)
    summary = Summary()
    sources = digests(files)
    session = Session(engine, store, as_of=as_of, reassign=reassign, explain=explain)
    session.identify_sources(sources)
    with engine, session:
        if apply:
            options = (as_of, type_, reassign, lifecycle_engine)
            session.resumable(run_key(engine, sources, options))
        try:
            with open_output(out) as stream:
                writer = make_writer(_format(fmt), stream, explain=explain)
                for decision in session.process(rows):
                    writer.write(decision)
                    summary.add(decision)
                writer.finish()
        except OutputError as exc:
            _fail(str(exc))
        except StateError as exc:
            _fail(str(exc))
        if apply:
            session.commit()
        for notice in session.notices:
            summary.notice(notice)
    verb = "applied to " + str(state) if apply else "dry run: nothing written"
    click.echo(f"{summary.render()}\n({verb})", err=True)
    return 1 if summary.error_rows else 0


@main.command("dry-run")
@record_options
@decision_options
@click.option("--state", default=None, type=click.Path(dir_okay=False, path_type=str),
              help="Read this state (never written). Default: an empty state.")
def dry_run_command(files: tuple[str, ...], config: Path | None, type_: str | None,
                    as_of: str | None, lifecycle_engine: str, fmt: str | None, out: str | None,
                    explain: bool, reassign: bool, state: str | None) -> None:
    """Decide every row of FILES; write no state."""
    sys.exit(run_decisions(files, config=config, state=state, as_of=as_of, type_=type_,
                           lifecycle_engine=lifecycle_engine, fmt=fmt, out=out,
                           explain=explain, reassign=reassign, apply=False))


@main.command("apply")
@record_options
@decision_options
@click.option("--state", default=DEFAULT_STATE, show_default=True,
              type=click.Path(dir_okay=False, path_type=str), help="The state to update.")
def apply_command(files: tuple[str, ...], config: Path | None, type_: str | None,
                  as_of: str | None, lifecycle_engine: str, fmt: str | None, out: str | None,
                  explain: bool, reassign: bool, state: str) -> None:
    """Decide every row of FILES and commit the state (in crash-safe batches)."""
    sys.exit(run_decisions(files, config=config, state=state, as_of=as_of, type_=type_,
                           lifecycle_engine=lifecycle_engine, fmt=fmt, out=out,
                           explain=explain, reassign=reassign, apply=True))


@main.command("explain")
@record_options
@click.option("--id", "record_id", required=True, help="The id (or customer id) to explain.")
@click.option("--state", default=None, type=click.Path(dir_okay=False, path_type=str),
              help="Read this state (never written).")
def explain_command(files: tuple[str, ...], config: Path | None, type_: str | None,
                    as_of: str | None, lifecycle_engine: str, record_id: str,
                    state: str | None) -> None:
    """The decisions and full traces of the rows with that id (or customer), as JSON."""
    engine = _engine(config, lifecycle_engine)
    rows = _rows(files, type_, engine)
    store = _store(state, dry_run=True)
    with engine, session_for(engine, files, store, as_of=as_of, explain=True) as session:
        found = [
            d.to_dict() for d in session.process(rows)
            if record_id in (d.id, d.customer)
        ]
    click.echo(json.dumps(found, indent=2, ensure_ascii=False))
    if not found:
        click.echo(f"sfa: no row with id or customer {record_id!r}", err=True)
    sys.exit(0 if found else 1)


@main.command("forecast")
@record_options
@click.option("--state", default=None, type=click.Path(dir_okay=False, path_type=str),
              help="Include the opportunities of this state (never written).")
@click.option("--by", type=click.Choice(GROUP_BYS), default="owner", show_default=True)
@click.option("--period", type=click.Choice(PERIODS), default="quarter", show_default=True)
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default=None,
              help="Default: table on a terminal, json otherwise.")
def forecast_command(files: tuple[str, ...], config: Path | None, type_: str | None,
                     as_of: str | None, lifecycle_engine: str, state: str | None, by: str,
                     period: str, fmt: str | None) -> None:
    """Weighted pipeline by owner, territory, status or category, per period (SPEC §7)."""
    engine = _engine(config, lifecycle_engine)
    rows = _rows(files, type_, engine)
    with engine, session_for(engine, files, _store(state, dry_run=True), as_of=as_of) as session:
        report, failed = session.forecast(rows, by=by, period=period)
    fmt = fmt or ("table" if sys.stdout.isatty() else "json")
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
    sys.exit(1 if failed or report.errors else 0)


@main.command("diff")
@record_options
@click.option("--base", "base", required=True,
              type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="The configuration to compare against (the one live today).")
@click.option("--state", default=None, type=click.Path(dir_okay=False, path_type=str),
              help="The starting state of both sides (never written).")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "table"]), default=None,
              help="Default: table on a terminal, jsonl otherwise.")
@click.option("--reassign", is_flag=True, help="Redo the assignment of known records.")
@click.option("--exit-code", "exit_code", is_flag=True, help="Exit 1 when any row differs.")
def diff_command(files: tuple[str, ...], config: Path | None, type_: str | None,
                 as_of: str | None, lifecycle_engine: str, base: Path, state: str | None,
                 fmt: str | None, reassign: bool, exit_code: bool) -> None:
    """Decisions under --base and --config side by side: the rows that change (SPEC §15)."""
    old_engine = _engine(base, lifecycle_engine)
    new_engine = _engine(config, lifecycle_engine)
    fmt = _format(fmt) if fmt != "csv" else "jsonl"
    result = DiffResult()
    with old_engine, new_engine, \
            session_for(old_engine, files, _store(state, dry_run=True), as_of=as_of,
                        reassign=reassign) as old, \
            session_for(new_engine, files, _store(state, dry_run=True), as_of=as_of,
                        reassign=reassign) as new:
        changed = diff(old, new, _rows(files, type_, old_engine), _rows(files, type_, new_engine),
                       result)
        if fmt == "jsonl":
            for row in changed:
                click.echo(json.dumps(row, ensure_ascii=False))
        else:
            _diff_table(changed)
    click.echo("\n".join(result.summary()), err=True)
    sys.exit(1 if exit_code and result.changed else 0)


def _diff_table(changed: Iterable[dict[str, Any]]) -> None:
    header = ("source:row", "id", "field", "before", "after")
    lines: list[tuple[str, ...]] = []
    for row in changed:
        for name in row["before"]:
            if row["before"][name] != row["after"][name]:
                lines.append((f"{row['source']}:{row['row']}", str(row["id"]), name,
                              _cell(row["before"][name]), _cell(row["after"][name])))
    widths = [max(len(r[i]) for r in (header, *lines)) for i in range(len(header))]
    for r in (header, *lines):
        click.echo("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())


def _cell(value: Any) -> str:
    return "-" if value is None else str(value)


# -- state ---------------------------------------------------------------------------


@main.group("state")
def state_group() -> None:
    """Look at or reset the state: rotations ("who is next") and loads (SPEC §9)."""


def state_option(func: Any) -> Any:
    return click.option("--state", default=DEFAULT_STATE, show_default=True,
                        type=click.Path(dir_okay=False, path_type=str),
                        help="The state file.")(func)


def _existing_state(state: str) -> None:
    if not os.path.exists(state):
        _fail(f"no state at {state} (run `sfa apply ... --state {state}` first)")


@state_group.command("show")
@state_option
@config_option
@click.option("--as-of", "as_of", default=None, callback=_iso_date, metavar="DATE",
              help="The date eligibility is judged on (away periods). Default: today.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
def state_show_command(state: str, config: Path | None, as_of: str | None, fmt: str) -> None:
    """Each territory's rotation (who is next) and each rep's open records."""
    _existing_state(state)
    engine = _engine(config, "native")
    with engine, _store(state, dry_run=True) as store:
        rotations = store.rotations()
        loads = store.loads()
        rows = []
        for t in engine.index.tried():
            following = engine.assigner.preview(t.id, 1, store, as_of)
            rows.append({"territory": t.id, "distribution": t.distribution,
                         "next": following[0] if following else None,
                         "rotation": rotations.get(t.id)})
    if fmt == "json":
        click.echo(json.dumps({"rotations": rows, "loads": loads}, indent=2))
        return
    click.echo("territory".ljust(24) + "distribution".ljust(14) + "next")
    for r in rows:
        click.echo(f"{r['territory']:<24}{r['distribution']:<14}{r['next'] or '(nobody eligible)'}")
    click.echo("\nrep".ljust(25) + "open records")
    for rep, count in sorted(loads.items()):
        click.echo(f"{rep:<24}{count:>12,}")


@state_group.command("next")
@click.argument("territory")
@click.option("-n", "count", default=10, show_default=True, type=click.IntRange(min=1))
@state_option
@config_option
@click.option("--as-of", "as_of", default=None, callback=_iso_date, metavar="DATE",
              help="The date eligibility is judged on (away periods). Default: today.")
def state_next_command(territory: str, count: int, state: str, config: Path | None,
                       as_of: str | None) -> None:
    """Who would get the next N records of TERRITORY (the rotation does not advance)."""
    engine = _engine(config, "native")
    if territory not in engine.index.by_id:
        hint = did_you_mean(territory, engine.index.by_id)
        _fail(f"unknown territory {territory!r}{hint}")
    store: Any = _store(state, dry_run=True) if os.path.exists(state) else MemoryStore()
    with engine, store:
        picks = engine.assigner.preview(territory, count, store, as_of)
    for i, rep in enumerate(picks, 1):
        click.echo(f"{i:>3}  {rep}")
    if len(picks) < count:
        click.echo(f"sfa: only {len(picks)} of {count}: nobody else is eligible", err=True)


@state_group.command("reset")
@click.option("--territory", "territory", required=True, help="The territory whose rotation restarts.")
@state_option
@config_option
def state_reset_command(territory: str, state: str, config: Path | None) -> None:
    """Restart a territory's rotation (its next record goes to its first member)."""
    _existing_state(state)
    engine = _engine(config, "native")
    with engine:
        if territory not in engine.index.by_id:
            _fail(f"unknown territory {territory!r}{did_you_mean(territory, engine.index.by_id)}")
    with _store(state, dry_run=False) as store:
        store.reset_rotation(territory)
        store.commit()
    click.echo(f"rotation of {territory} reset in {state}", err=True)
