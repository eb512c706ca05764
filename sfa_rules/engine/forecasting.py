"""The rows' own problems in a forecast report (SPEC §7, §11).

A forecast processes rows first; a row in error counts nowhere, and a row's warnings
(an opportunity with no customer, a value a criterion cannot read, ...) say something
about the forecast too. :class:`RowIssues` collects them from the decisions and puts
them in the report with the forecast's own, in input order, so that ``engine.forecast`` loses
nothing: ``report.errors`` names every row that is not counted, with file and row.
"""

from __future__ import annotations

from dataclasses import replace

from sfa_rules.engine.decision import Decision, warning_code
from sfa_rules.forecast import ForecastIssue, ForecastReport

_FIELD_FIRST = frozenset({"not-a-number", "not-a-date"})


class RowIssues:
    """The errors and warnings of decided rows, as forecast issues."""

    def __init__(self) -> None:
        self.errors: list[ForecastIssue] = []
        self.warnings: list[ForecastIssue] = []
        self.sources: dict[str, int] = {}  # file -> its place among the inputs

    def add(self, decision: Decision) -> None:
        """Note the decision's error or warnings (most rows have neither)."""
        source = decision.source or "records"
        if source not in self.sources:
            self.sources[source] = len(self.sources)
        if decision.error is not None:
            error = decision.error
            self.errors.append(ForecastIssue(
                source, decision.row, str(error.get("code") or "error"),
                str(error.get("message") or ""), str(error.get("field") or ""),
                decision.id or "", decision.owner or "",
            ))
        for text in decision.warnings:
            code = warning_code(text)  # as the dry run's summary counts it
            message = text.removeprefix(f"{code}: ")
            # a value a criterion cannot read says its field first: "employees: 'n/a' ..."
            field = text.split(": ", 1)[0] if code in _FIELD_FIRST else ""
            self.warnings.append(ForecastIssue(source, decision.row, code, message, field,
                                               decision.id or "", decision.owner or ""))

    def into(self, report: ForecastReport) -> ForecastReport:
        """``report`` with these issues too, all in input order (files in the order
        given, rows in file order, the state's opportunities last)."""
        last = len(self.sources)

        def place(issue: ForecastIssue) -> tuple[int, bool, int]:
            return (self.sources.get(issue.source, last), issue.row is None, issue.row or 0)

        return replace(report, errors=tuple(sorted((*self.errors, *report.errors), key=place)),
                       warnings=tuple(sorted((*self.warnings, *report.warnings), key=place)))
