"""Checks of the ``imports:`` section (SPEC §16), run by ``sfa validate`` and at load.

Each check is ``(config, sourcemap) -> Iterator[Problem]`` like those of
:mod:`checks`, whose :data:`checks.CHECKS` lists them; the docstring is the user
documentation.
"""

from __future__ import annotations

from collections.abc import Iterator

from sfa_rules.config.dateformats import format_problem
from sfa_rules.config.imports import FieldMap, Import, TypeColumn
from sfa_rules.config.loader import SourceMap
from sfa_rules.config.models import Config
from sfa_rules.config.recordtypes import TYPE_NAMES, normalise_type
from sfa_rules.config.yamlread import Path
from sfa_rules.errors import Problem, did_you_mean

CUSTOMER_TYPES = ("lead", "prospect", "customer")


def import_date_formats(config: Config, sm: SourceMap) -> Iterator[Problem]:
    """``bad-date-format``: an import's `date_format` or a field's `format` that
    strptime cannot read dates with (no directive: `dd-mm-yy` for `%d-%m-%y`; a bad
    directive; no year, month or day)."""
    for i, imp in enumerate(config.imports):
        formats: list[tuple[Path, str]] = []
        if imp.date_format is not None:
            formats.append((("imports", i, "date_format"), imp.date_format))
        for name, spec in imp.fields.items():
            if isinstance(spec, FieldMap) and spec.format is not None:
                formats.append((("imports", i, "fields", name, "format"), spec.format))
        for path, fmt in formats:
            problem = format_problem(fmt)
            if problem is not None:
                yield sm.problem(path, "bad-date-format",
                                 f"import '{imp.id}': date format {fmt!r} {problem}")


def _type_problem(imp: Import, written: str, path: Path, sm: SourceMap) -> Iterator[Problem]:
    if normalise_type(written) is None:
        hint = did_you_mean(written.strip().lower(), TYPE_NAMES)
        yield sm.problem(path, "unknown-type",
                         f"import '{imp.id}': unknown record type {written!r}{hint}")


def import_types(config: Config, sm: SourceMap) -> Iterator[Problem]:
    """``unknown-type``: an import's `type` (or a value of its `type.values`) that is no
    record type. ``import-type-field``: `type` under `fields` (the record type is the
    import's own `type: {column: ...}`)."""
    for i, imp in enumerate(config.imports):
        base: Path = ("imports", i, "type")
        if isinstance(imp.type, str):
            yield from _type_problem(imp, imp.type, base, sm)
        elif isinstance(imp.type, TypeColumn):
            for raw, target in imp.type.values.items():
                yield from _type_problem(imp, target, base + ("values", raw), sm)
        for name in imp.fields:
            if name.strip().lower() == "type":
                yield sm.problem(("imports", i, "fields", name), "import-type-field",
                                 f"import '{imp.id}': the record type is not a field: "
                                 "write `type: {column: ...}` instead", key=True)


def import_status_values(config: Config, sm: SourceMap) -> Iterator[Problem]:
    """``unknown-opportunity-status`` / ``unknown-status``: a `values` map of the
    `status` field that maps to no opportunity status (imports of opportunities) or
    customer status (imports of leads, prospects, customers), with a did-you-mean."""
    for i, imp in enumerate(config.imports):
        kind = normalise_type(imp.type) if isinstance(imp.type, str) else None
        if kind == "opportunity":
            code, noun = "unknown-opportunity-status", "opportunity status"
            known = [o.id for o in config.opportunity_statuses]
        elif kind in CUSTOMER_TYPES:
            code, noun, known = "unknown-status", "status", [s.id for s in config.statuses]
        else:
            continue
        exact = config.settings.case_sensitive  # the engine then matches ids exactly
        folded = set(known) if exact else {k.strip().casefold() for k in known}
        for name, spec in imp.fields.items():
            if name.strip().lower() != "status" or not isinstance(spec, FieldMap):
                continue
            for raw, target in spec.values.items():
                written = target if exact else target.strip().casefold()
                if target.strip() and written not in folded:
                    yield sm.problem(
                        ("imports", i, "fields", name, "values", raw), code,
                        f"import '{imp.id}': {raw!r} maps to unknown {noun} "
                        f"{target!r}{did_you_mean(target, known)}")


def import_numbers(config: Config, sm: SourceMap) -> Iterator[Problem]:
    """``bad-numbers``: an import's `numbers` whose thousands separator is its decimal
    mark."""
    for i, imp in enumerate(config.imports):
        if imp.numbers.thousands == imp.numbers.decimal:
            yield sm.problem(("imports", i, "numbers", "thousands"), "bad-numbers",
                             f"import '{imp.id}': the thousands separator "
                             f"{imp.numbers.thousands!r} is also the decimal mark")


def import_files(config: Config, sm: SourceMap) -> Iterator[Problem]:
    """``bad-glob`` (warning): a `files` pattern with a folder in it, which never
    matches (patterns match the file's base name only)."""
    for i, imp in enumerate(config.imports):
        for j, pattern in enumerate(imp.files):
            if "/" in pattern or "\\" in pattern:
                yield sm.problem(("imports", i, "files", j), "bad-glob",
                                 f"import '{imp.id}': files pattern {pattern!r} names a "
                                 "folder, but patterns match the file's base name only",
                                 severity="warning")


IMPORT_CHECKS = (import_date_formats, import_types, import_status_values, import_numbers,
                 import_files)
