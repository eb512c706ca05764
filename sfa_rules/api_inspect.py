"""``sfa inspect`` as a library call (SPEC §16): profile an export's columns against
the configuration, and propose its ``imports:`` entry."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sfa_rules.config.loader import resolve_folder
from sfa_rules.criteria import vocabulary
from sfa_rules.engine.core import compile_config
from sfa_rules.records.imports import DATE_FIELDS, NUMBER_FIELDS, Imports
from sfa_rules.records.inspect import profile
from sfa_rules.records.proposal import render
from sfa_rules.records.readers import open_inputs

__all__ = ["Inspection", "inspect"]


@dataclass(frozen=True)
class Inspection:
    """``sfa inspect``: the proposed configuration file, the count of values the
    configuration does not know, and whether the configuration has errors."""

    text: str
    files: int
    unknown: int
    config_errors: bool


def inspect(files: tuple[str, ...], config: Path | None = None) -> Inspection:
    """Profile ``files`` against the configuration and propose their ``imports:``
    (SPEC §16); raises ``InputError`` for unusable files."""
    open_inputs(files)
    cfg, _, ctx, problems = compile_config(resolve_folder(config))
    known = {ctx.field(name) for name in vocabulary.known_fields(cfg)}
    schema = ctx.schema
    profiles = [profile(f, cfg, schema.canonical, known) for f in files]
    dates = {schema.canonical(f) for f in (*DATE_FIELDS, *schema.dates)}
    numbers = {schema.canonical(f) for f in (*NUMBER_FIELDS, *schema.numbers)}
    imports = Imports(cfg, schema.canonical, schema.dates, schema.numbers)
    current = {f: imp.id for f in files if (imp := imports.match(f)) is not None}
    text = render(profiles, dates, numbers, (i.id for i in cfg.imports), current)
    unknown = sum(len(c.unknown) for p in profiles for c in p.columns)
    return Inspection(text, len(profiles), unknown,
                      any(p.severity == "error" for p in problems))
