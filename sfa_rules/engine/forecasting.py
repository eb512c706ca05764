"""The rows' own problems in a forecast report (SPEC §7, §11).

A forecast processes rows first; a row in error counts nowhere, and a row's warnings
(an opportunity with no customer, a value a criterion cannot read, ...) say something
about the forecast too. :class:`RowIssues` collects them from the decisions and puts
them in the report, ahead of the forecast's own, so that ``engine.forecast`` loses
nothing: ``report.errors`` names every row that is not counted, with file and row.
"""

from __future__ import annotations

import re
from dataclasses import replace

from sfa_rules.engine.decision import Decision
from sfa_rules.forecast import ForecastIssue, ForecastReport

_CODED = re.compile(r"([a-z]+(?:-[a-z]+)+): ")  # "no-customer: opportunity O-1 has ..."
ROW_WARNING = "row-warning"  # the code of a row's warning that names none


class RowIssues:
    """The errors and warnings of decided rows, as forecast issues."""

    def __init__(self) -> None:
        self.errors: list[ForecastIssue] = []
        self.warnings: list[ForecastIssue] = []

    def add(self, decision: Decision) -> None:
        """Note the decision's error or warnings (most rows have neither)."""
        source = decision.source or "records"
        if decision.error is not None:
            error = decision.error
            self.errors.append(ForecastIssue(
                source, decision.row, str(error.get("code") or "error"),
                str(error.get("message") or ""), str(error.get("field") or ""),
            ))
        for text in decision.warnings:
            coded = _CODED.match(text)
            code = coded.group(1) if coded else ROW_WARNING
            message = text[coded.end():] if coded else text
            self.warnings.append(ForecastIssue(source, decision.row, code, message, ""))

    def into(self, report: ForecastReport) -> ForecastReport:
        """``report`` with these issues ahead of its own."""
        if not self.errors and not self.warnings:
            return report
        return replace(report, errors=(*self.errors, *report.errors),
                       warnings=(*self.warnings, *report.warnings))
