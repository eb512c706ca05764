"""The forecast report as text in the format asked for (SPEC §7, §17)."""

from __future__ import annotations

import json

from sfa_rules.forecast import ForecastReport, to_csv, to_json, to_table
from sfa_rules.report.writers import neutralise

FORMATS = ("table", "csv", "json")


def forecast_text(report: ForecastReport, fmt: str, *, raw: bool = False) -> str:
    """``report`` as ``table``, ``csv`` or ``json`` text, ending with a newline.

    The JSON is strict (``allow_nan=False``): every number is finite, so a JSON parser
    reads it, whatever the amounts were (too large ones are ``bad-amount``). In CSV a
    group a spreadsheet would run as a formula (an owner ``=cmd|...``, ``-2+3``) gets a
    leading ``'``, as the decisions' CSV does, unless ``raw``."""
    if fmt == "json":
        return json.dumps(to_json(report), indent=2, allow_nan=False) + "\n"
    if fmt == "csv":
        return to_csv(report, None if raw else neutralise)
    return to_table(report)
