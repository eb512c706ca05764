"""What the ``sfa`` commands do, as library calls: validate, dry-run and apply (with the
resumable apply), explain, forecast, diff and the state commands.

The CLI only parses options, calls these, prints and exits; everything a command
does besides (finding the configuration, the checks of ``sfa validate``, the
resumable apply: input digests, run keys, committed batches and their journal) is
here. Nothing here prints or exits: mistakes are exceptions (``ConfigError``,
``EngineUnavailable``, ``InputError``, ``StateError``, ``OutputError``) whose message
is for the user.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sfa_rules.config.loader import SourceMap, resolve_folder
from sfa_rules.config.models import Config
from sfa_rules.engine.core import Engine, Session, compile_config, load
from sfa_rules.engine.decision import Decision
from sfa_rules.engine.rules import validation_problems
from sfa_rules.engine.session import as_of_day
from sfa_rules.entities import HistoryEntry
from sfa_rules.errors import ConfigError, Problem, did_you_mean
from sfa_rules.forecast import ForecastReport
from sfa_rules.records.imports import Imports, split_source
from sfa_rules.records.readers import InputRow
from sfa_rules.report.diff import DiffResult
from sfa_rules.report.diff import diff as diff_sessions
from sfa_rules.report.summary import Summary
from sfa_rules.report.writers import make_writer, open_output
from sfa_rules.state import MemoryStore, StateError, Store, is_postgres_url, open_state

__all__ = [
    "DEFAULT_STATE", "RunRequest", "UnknownTerritory", "Validation", "diff",
    "digests", "explain", "forecast", "history", "next_owners", "open_engine", "open_store", "read_rows",
    "require_state", "reset_rotation", "rotations", "run_decisions", "run_key", "session_for", "validate",
    "validate_config",
]

DEFAULT_STATE = "sfa-state.db"


# -- sfa validate -----------------------------------------------------------------


@dataclass(frozen=True)
class Validation:
    """Every problem of a configuration (sorted) and how many files it has."""

    problems: list[Problem]
    files: int

    @property
    def ok(self) -> bool:
        """No problem is an error."""
        return not any(p.severity == "error" for p in self.problems)


def validate_config(
    folder: str | os.PathLike[str] | None,
) -> tuple[Config | None, SourceMap, list[Problem]]:
    """Load and check a configuration: every problem ``sfa validate`` reports, sorted.

    ``engine.rules.validation_problems``: loading, the configuration's checks, the
    criteria compiler's, the field vocabulary's and the static analysis of SPEC §15
    (each of its checks unless a section it reads has an error). The Config is None
    when any problem is an error.
    """
    config, sm, ctx, problems = compile_config(folder)
    problems = validation_problems(config, sm, ctx, problems)
    ok = not any(p.severity == "error" for p in problems)
    return (config if ok else None), sm, problems


def validate(folder: str | os.PathLike[str] | None, *, strict: bool = False) -> Validation:
    """``sfa validate``: the problems of the configuration at ``folder`` (SPEC §2's
    default folder when None); ``strict`` makes every warning an error."""
    _, sm, problems = validate_config(resolve_folder(folder))
    if strict:
        problems = [
            Problem(p.file, p.line, p.column, "error", p.code, p.message)
            if p.severity == "warning" else p
            for p in problems
        ]
    problems.sort()
    return Validation(problems, len(sm.files))


# -- what every command that reads records needs ------------------------------------


def open_engine(config: str | os.PathLike[str] | None, lifecycle_engine: str) -> Engine:
    """The compiled configuration for a command; raises ``ConfigError`` or
    ``EngineUnavailable``."""
    engine = load(config, lifecycle_engine=lifecycle_engine)  # type: ignore[arg-type]
    engine.hold_collector()  # the engine lives as long as the command; closed, it gives it back
    return engine


def read_rows(files: Iterable[str], type_: str | None, engine: Engine,
              import_id: str | None = None) -> Iterator[InputRow]:
    """The rows of ``files`` (lazily), each read through its import (SPEC §16: ``FILE::ID``,
    else ``import_id`` for every file, else the first whose globs match); raises
    ``InputError`` for unusable files and unknown import ids."""
    return Imports.of(engine).read(list(files), import_id, type_)


Waiting = Callable[[str], None]  # told once that a run waits for another on its state


def open_store(state: str | None, *, dry_run: bool, on_wait: Waiting | None = None) -> Store:
    """The state file or PostgreSQL database (an empty scratch state when None); raises
    ``StateError``.

    A run that writes it waits for another one that holds it for as long as that takes
    (``on_wait`` hears once that it waits); a dry run never waits."""
    return open_state(state, dry_run=dry_run, lock_timeout=None, on_wait=on_wait)


def digests(files: Iterable[str]) -> dict[str, str]:
    """Each input file's content digest: what identifies its rows across runs."""
    out = {}
    for name, _ in map(split_source, files):  # FILE::ID: the file's own digest
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


def session_for(engine: Engine, state: str | None, **options: Any) -> Session:
    """A dry-run session over ``state`` (no history lines: its store is never
    committed). With no state its rows are still known by their place in their input,
    as ``apply`` knows them: a dry run previews what applying would do, and a file
    given twice in one run is applied once."""
    as_of_day(options.get("as_of"))  # a ValueError before the state is opened
    return Session(engine, open_store(state, dry_run=True), history=False, **options)


# -- sfa dry-run and sfa apply ---------------------------------------------------


@dataclass(frozen=True)
class RunRequest:
    """The options of ``sfa dry-run`` / ``sfa apply``. ``fmt`` is a writer's name
    (``jsonl``, ``csv``, ``table``); ``out`` a file, or None or ``-`` for stdout."""

    files: tuple[str, ...]
    config: Path | None = None
    state: str | None = None
    as_of: str | None = None
    type_: str | None = None
    import_id: str | None = None
    lifecycle_engine: str = "auto"
    fmt: str = "jsonl"
    out: str | None = None
    explain: bool = False
    reassign: bool = False
    apply: bool = False
    csv_raw: bool = False  # CSV cells a spreadsheet would run are written as they are
    on_wait: Waiting | None = None  # told once when another run holds the state


Rows = Callable[[Iterator[InputRow]], Iterable[InputRow]]


def run_decisions(request: RunRequest, wrap_rows: Rows | None = None) -> Summary:
    """Decide every row of the request's files and write the decisions; with ``apply``
    commit the state in crash-safe batches that a re-run resumes (SPEC §9).

    ``wrap_rows`` may wrap the rows as they are read (the CLI's progress counter).
    Returns the run's summary.
    """
    as_of_day(request.as_of)  # a ValueError before anything is opened
    engine = open_engine(request.config, request.lifecycle_engine)
    rows: Iterable[InputRow] = read_rows(request.files, request.type_, engine, request.import_id)
    if wrap_rows is not None:
        rows = wrap_rows(iter(rows))
    store = open_store(request.state, dry_run=not request.apply, on_wait=request.on_wait)
    summary = Summary()
    session = Session(engine, store, as_of=request.as_of, reassign=request.reassign,
                      explain=request.explain, history=request.apply)
    with engine, session:
        if request.apply:
            options = (request.as_of, request.type_, request.reassign, request.lifecycle_engine,
                       request.import_id, request.files)
            session.resumable(run_key(engine, digests(request.files), options))
        with open_output(request.out) as stream:
            writer = make_writer(request.fmt, stream, explain=request.explain,
                                 csv_raw=request.csv_raw)
            for decision in session.process(rows):
                writer.write(decision)
                summary.add(decision)
            writer.finish()
        if request.apply:
            session.commit()
        for notice in session.notices:
            summary.notice(notice)
    return summary


def explain(
    files: tuple[str, ...], record_id: str, *, config: Path | None = None,
    state: str | None = None, as_of: str | None = None, type_: str | None = None,
    lifecycle_engine: str = "auto", wrap_rows: Rows | None = None,
    import_id: str | None = None,
) -> list[Decision]:
    """``sfa explain``: the decisions, with traces, of the rows with that id or customer
    (or, merged into a known record, that id as ``merged_from``)."""
    engine = open_engine(config, lifecycle_engine)
    rows: Iterable[InputRow] = read_rows(files, type_, engine, import_id)
    if wrap_rows is not None:
        rows = wrap_rows(iter(rows))
    with engine, session_for(engine, state, as_of=as_of, explain=True) as session:
        return [d for d in session.process(rows)
                if record_id in (d.id, d.customer, d.merged_from)]


# -- sfa forecast, sfa diff ------------------------------------------------------


def forecast(
    files: tuple[str, ...], *, by: str, period: str, config: Path | None = None,
    state: str | None = None, as_of: str | None = None, type_: str | None = None,
    lifecycle_engine: str = "auto", wrap_rows: Rows | None = None,
    import_id: str | None = None,
) -> tuple[ForecastReport, list[Decision]]:
    """``sfa forecast``: the forecast of the rows and the state (never written), and the
    decisions of the rows in error."""
    engine = open_engine(config, lifecycle_engine)
    rows: Iterable[InputRow] = read_rows(files, type_, engine, import_id)
    if wrap_rows is not None:
        rows = wrap_rows(iter(rows))
    with engine, session_for(engine, state, as_of=as_of) as session:
        return session.forecast(rows, by=by, period=period)


def diff(
    files: tuple[str, ...], result: DiffResult, *, base: Path, config: Path | None = None,
    state: str | None = None, as_of: str | None = None, type_: str | None = None,
    lifecycle_engine: str = "auto", reassign: bool = False, wrap_rows: Rows | None = None,
    import_id: str | None = None, explain: bool = False,
) -> Iterator[dict[str, Any]]:
    """``sfa diff``: the rows whose decisions differ under ``base`` and ``config`` (both
    over ``state``, never written), lazily; ``result`` counts them; ``explain`` adds
    each side's trace. Nothing is opened before the first ``next()``."""
    old_engine, new_engine = _both_engines((base, config), lifecycle_engine)
    # The rows first, as for a dry run: unusable files are an InputError (digests would
    # otherwise meet a missing file first).
    old_rows: Iterable[InputRow] = read_rows(files, type_, old_engine, import_id)
    new_rows: Iterable[InputRow] = read_rows(files, type_, new_engine, import_id)
    if wrap_rows is not None:  # one side: both read the same rows, in step
        old_rows = wrap_rows(iter(old_rows))
    with old_engine, new_engine, \
            session_for(old_engine, state, as_of=as_of,
                        reassign=reassign, explain=explain) as old, \
            session_for(new_engine, state, as_of=as_of,
                        reassign=reassign, explain=explain) as new:
        yield from diff_sessions(old, new, old_rows, new_rows, result)


def _both_engines(folders: tuple[Path | None, Path | None],
                  lifecycle_engine: str) -> tuple[Engine, Engine]:
    """``sfa diff``'s two engines. One ``ConfigError`` names every problem of either
    configuration, each file under its folder: both sides have a ``rules/assignment.yaml``."""
    engines: list[Engine] = []
    problems: list[Problem] = []
    failed: set[str] = set()  # one folder on both sides: its problems once
    for folder in folders:
        try:
            engines.append(open_engine(folder, lifecycle_engine))
        except ConfigError as exc:
            shown = os.path.normpath(resolve_folder(folder) if folder is None else folder)
            if os.path.realpath(shown) not in failed:
                failed.add(os.path.realpath(shown))
                problems += [p if os.path.isabs(p.file) or os.path.normpath(p.file) == shown
                             else replace(p, file=os.path.join(shown, p.file))
                             for p in exc.problems]  # the folder's own problem names it
    if problems:
        for engine in engines:
            engine.close()
        raise ConfigError(problems)
    return engines[0], engines[1]


# -- sfa state ---------------------------------------------------------------------


class UnknownTerritory(ValueError):
    """A territory id the configuration does not have (a usage error for the CLI)."""

    def __init__(self, territory: str, known: Iterable[str]) -> None:
        super().__init__(f"unknown territory {territory!r}{did_you_mean(territory, known)}")


def rotations(
    state: str, *, config: Path | None = None, as_of: str | None = None
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """``sfa state show``: each territory's distribution, next member and rotation, and
    each rep's open records."""
    engine = open_engine(config, "native")
    with engine, open_store(state, dry_run=True) as store:
        engine.recount_loads(store)  # as this configuration counts them (never written)
        current, loads = store.rotations(), store.loads()
        rows = []
        for t in engine.index.tried():
            following = engine.assigner.preview(t.id, 1, store, as_of)
            rows.append({"territory": t.id, "distribution": t.distribution,
                         "next": following[0] if following else None,
                         "rotation": current.get(t.id)})
        return rows, loads


def state_exists(state: str) -> bool:
    """Whether ``state`` is a PostgreSQL URL or an existing file (else a run that only
    reads it reads an empty state)."""
    return is_postgres_url(state) or os.path.exists(state)


def require_state(state: str) -> None:
    """``StateError`` unless ``state`` exists (``state_exists``): the commands that
    only read a state have nothing to read otherwise."""
    if not state_exists(state):
        raise StateError(f"no state at {state} (run `sfa apply ... --state {state}` first)")


def history(customer_id: str, state: str) -> list[HistoryEntry] | None:
    """``sfa state history``: the customer's history in date order (None: the state
    knows no such customer)."""
    with open_store(state, dry_run=True) as store:
        if store.get_customer(customer_id) is None:
            return None
        return store.history_of(customer_id)


def next_owners(
    territory: str, count: int, state: str, *, config: Path | None = None,
    as_of: str | None = None,
) -> list[str]:
    """``sfa state next``: who would get the territory's next ``count`` records (the
    rotation does not advance); an empty state when ``state`` does not exist."""
    engine = open_engine(config, "native")
    if territory not in engine.index.by_id:
        raise UnknownTerritory(territory, engine.index.by_id)
    store: Any = (
        open_store(state, dry_run=True)
        if state_exists(state)
        else MemoryStore()
    )
    with engine, store:
        return engine.assigner.preview(territory, count, store, as_of)


def reset_rotation(
    territory: str, state: str, *, config: Path | None = None, on_wait: Waiting | None = None
) -> None:
    """``sfa state reset``: the territory's next record goes to its first member."""
    engine = open_engine(config, "native")
    with engine:
        if territory not in engine.index.by_id:
            raise UnknownTerritory(territory, engine.index.by_id)
    with open_store(state, dry_run=False, on_wait=on_wait) as store:
        store.reset_rotation(territory)
        store.commit()
