"""The field vocabulary and ``unknown-field`` (SPEC §16).

The fields a configuration knows: the keys of ``settings.fields``, the fields the
engine itself names (:data:`SPEC_FIELDS`), the fields imports map to, the fields of
``settings.domains`` and ``settings.known_fields``. A criterion on any other field is
reported: ``contry: DE`` silently matching nothing is the most common mistake in rule
files. Field names compare as criteria read them (aliases, case and blanks ignored).
A guard's ``customer.<field>`` is checked as ``<field>``, with the customer's own
values (``stage``, ``open_opportunities``, ``activities.<kind>`` of a known activity
kind, ...) known too; any other dotted name reaches
into a nested JSON value the configuration cannot know of, and is not reported.
"""

from __future__ import annotations

from collections.abc import Iterator

from sfa_rules.config.eventchecks import activity_kinds
from sfa_rules.config.loader import SourceMap
from sfa_rules.config.models import Config
from sfa_rules.criteria.ir import CriteriaContext
from sfa_rules.errors import Problem, closest

__all__ = ["CUSTOMER_FIELDS", "SPEC_FIELDS", "check", "known_fields"]

# Fields records carry that the engine or the common exports name (SPEC §3-§8, §16-§19).
SPEC_FIELDS = (
    "id", "type", "customer", "status", "owner", "owner_locked", "amount", "expected_close",
    "created", "date", "probability", "email", "company", "website", "name", "phone",
    "country", "state", "zip", "city", "address", "industry", "employees", "lead_source",
    "territory", "kind", "subject", "outcome", "role",
)
# What a transition guard reads of the customer besides its stored fields.
CUSTOMER_FIELDS = (
    "id", "status", "stage", "owner", "territory", "open_opportunities",
    "won_opportunities", "lost_opportunities", "last_activity", "days_since_activity",
    "activities", "contacts",
)
_CUSTOMER = "customer."
_ACTIVITIES = "activities."


def known_fields(config: Config) -> list[str]:
    """Every field the configuration knows, as written there, each once, in order."""
    settings = config.settings
    names = [*settings.fields, *SPEC_FIELDS, *(f for imp in config.imports for f in imp.fields),
             *settings.domains, *settings.known_fields]
    return list(dict.fromkeys(names))


def check(config: Config, sm: SourceMap, ctx: CriteriaContext) -> Iterator[Problem]:
    """``unknown-field``: a criterion on a field the configuration does not know
    (warning; an error with `--strict`), with a did-you-mean."""
    written = known_fields(config)
    known = {ctx.field(name) for name in written}
    guard = known | {ctx.field(name) for name in CUSTOMER_FIELDS}
    kinds = activity_kinds(config)
    for name, path in ctx.field_refs:
        field = ctx.field(name)
        choices, pool, shown = known, written, name
        read = name.strip()
        if path[0] == "follow_ups":  # a follow-up reads the customer itself
            field, read = _CUSTOMER + field, _CUSTOMER + read
        if field.startswith(_CUSTOMER):
            field, shown = field[len(_CUSTOMER):], read[len(_CUSTOMER):]
            choices, pool = guard, [*written, *CUSTOMER_FIELDS]
            if field.startswith(_ACTIVITIES):  # a count per activity kind (SPEC §18)
                field, shown = field[len(_ACTIVITIES):], shown[len(_ACTIVITIES):]
                choices, pool = {ctx.field(k) for k in kinds}, list(kinds)
        elif "." in field:
            continue
        if field in choices:
            continue
        found = closest(shown.strip(), pool) or closest(field, [n.lower() for n in pool])
        # suggested whole, as written: `customer.activities.call`, not `call`
        lead = name.strip()[:max(0, len(name.strip()) - len(shown.strip()))]
        hint = f" (did you mean '{lead}{found}'?)" if found is not None else ""
        yield sm.problem(
            path, "unknown-field",
            f"unknown field '{name}'{hint}: no record field has that name "
            "(add it to settings.known_fields if records carry it)",
            severity="warning", key=True,
        )
