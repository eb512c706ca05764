"""``sfa report``: one self-contained HTML page from a ``ReportData`` (SPEC §20).

The page (``template.html``) holds everything inline: its styles, plotly.js (the
charting library, from the ``plotly`` package: ``pip install 'sfa-rules[report]'``),
each chart as a Plotly figure in a ``<script type="application/json">`` block, and a
little plain JavaScript that draws the charts and sorts and filters the tables. It
loads nothing from the network (its Content-Security-Policy forbids it).

Charts: assignments by territory and by owner, each rep's open records against their
capacity, the customers by stage and status (a funnel), the forecast by period and
category (stacked bars), by owner and (when reps have managers) by manager. Tables:
the rows in error and with warnings, the configuration's problems and proofs
(``sfa validate``).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from html import escape
from importlib import resources
from pathlib import Path
from typing import Any

from sfa_rules.forecast import ForecastReport
from sfa_rules.report.collect import ReportData
from sfa_rules.report.summary import TOP

__all__ = ["INSTALL_HINT", "ReportUnavailable", "check_available", "render"]

INSTALL_HINT = "pip install 'sfa-rules[report]'"
CATEGORIES = (("closed", "Closed (won)", "#2e7d32"), ("commit", "Commit", "#1565c0"),
              ("best_case", "Best case", "#f9a825"), ("pipeline", "Pipeline", "#90a4ae"))
STAGE_COLOURS = {"lead": "#90caf9", "prospect": "#42a5f5", "customer": "#1565c0"}
MAX_BARS = 40  # bars per chart; the rest are summed as "(others)"

Figure = dict[str, Any]


class ReportUnavailable(Exception):
    """The charting library is not installed (a usage error for the CLI)."""


def check_available() -> None:
    """Raise ``ReportUnavailable`` (naming the pip command) when plotly is missing."""
    try:
        import plotly.graph_objects
        import plotly.offline  # noqa: F401
    except ImportError:
        raise ReportUnavailable(
            f"sfa report needs the charting library plotly: {INSTALL_HINT}") from None


def render(data: ReportData, *, title: str = "sfa report") -> str:
    """The page as text (UTF-8 HTML)."""
    check_available()
    from plotly.offline import get_plotlyjs

    page = resources.files("sfa_rules.report").joinpath("template.html").read_text("utf-8")
    parts = {
        "<!--SFA:TITLE-->": escape(title),
        "<!--SFA:SUBTITLE-->": escape(_subtitle(data)),
        "<!--SFA:SUMMARY-->": _summary(data),
        "<!--SFA:CHARTS-ASSIGNMENT-->": _charts(data, (_by_territory, _by_owner, _loads)),
        "<!--SFA:CHARTS-CUSTOMERS-->": _charts(data, (_funnel,)),
        "<!--SFA:CHARTS-FORECAST-->": _charts(data, (
            _forecast_by_period, _forecast_by_owner,
            *((_forecast_by_manager,) if data.by_manager is not None else ()))),
        "<!--SFA:FLAGGED-->": _flagged(data),
        "<!--SFA:PROBLEMS-->": _problems(data),
    }
    for marker, html in parts.items():
        page = page.replace(marker, html)
    # Last: plotly.js is large and must not be searched for markers.
    return page.replace("<!--SFA:PLOTLY-->", get_plotlyjs().replace("</script", "<\\/script"))


def _subtitle(data: ReportData) -> str:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    inputs = ", ".join(data.inputs) or "(no input)"
    as_of = f" · as of {data.as_of}" if data.as_of else ""
    return f"{inputs} · configuration {_relative(data.config)}{as_of} · dry run, generated {when}"


def _relative(folder: str) -> str:
    """A folder below the current one as a relative path (what the user typed, mostly)."""
    try:
        below = Path(folder).resolve().relative_to(Path.cwd().resolve())
        return "./" if str(below) == "." else f"./{below}"
    except (ValueError, OSError):
        return folder


# -- the summary -----------------------------------------------------------------------


def _summary(data: ReportData) -> str:
    s = data.summary
    errors = s.error_rows
    # the forecast's own problems (an opportunity with no amount, ...) count with the rows'
    found = data.forecast if data.forecast is not None else None
    error_codes = s.errors + Counter(i.code for i in (found.errors if found else ()))
    warning_codes = s.warning_codes + Counter(i.code for i in (found.warnings if found else ()))
    warnings = s.warnings + (len(found.warnings) if found else 0)
    cards: list[tuple[str, int | str, str]] = [
        ("rows", s.rows, ""), ("decided", s.rows - errors, ""),
        ("in error", errors, "err" if errors else ""),
        ("warnings", warnings, "warn" if warnings else ""),
        ("customers", sum(data.customers.values()), ""),
    ]
    if data.forecast is not None:
        total = data.forecast.totals
        cards.append(("opportunities forecast", total.count, ""))
        cards.append(("weighted pipeline", _money(total.weighted_amount), ""))
    html = ['<section id="summary"><h2>The run</h2><div class="cards">']
    html += [f'<div class="card {cls}"><b>{_n(v)}</b>{escape(k)}</div>' for k, v, cls in cards]
    html.append('</div><dl class="counts">')
    for label, counts in (("assigned how", s.methods), ("transitions", s.transitions),
                          ("errors by code", error_codes), ("warnings by code", warning_codes)):
        if counts:
            html.append(f"<dt>{escape(label)}</dt><dd>{escape(_top(counts))}</dd>")
    html += [f"<dt>notice</dt><dd>{escape(text)}</dd>" for text in s.notices]
    html.append("</dl></section>")
    return "".join(html)


# -- charts ----------------------------------------------------------------------------


def _charts(data: ReportData, makers: Iterable[Callable[[ReportData], tuple[str, str, Figure | None]]]) -> str:
    out = []
    for make in makers:
        chart_id, heading, figure = make(data)
        out.append(f"<div><h3>{escape(heading)}</h3>")
        if figure is None:
            out.append(f'<p class="empty" id="{chart_id}-empty">Nothing to show for this run.</p></div>')
            continue
        spec = json.dumps(figure, ensure_ascii=False, default=_json_default)
        spec = _in_script(spec)
        height = figure.get("layout", {}).get("height")
        style = f' style="height:{int(height)}px"' if height else ""
        out.append(f'<div class="chart" id="{chart_id}"{style}></div>'
                   f'<script type="application/json" data-chart="{chart_id}">{spec}</script></div>')
    return "".join(out)


def _figure(traces: Sequence[Any], **layout: Any) -> Figure:
    """A validated Plotly figure (plotly.graph_objects checks every property) as JSON data."""
    import plotly.graph_objects as go

    base = {"template": "plotly_white", "margin": {"l": 60, "r": 20, "t": 20, "b": 60},
            "legend": {"orientation": "h", "y": -0.2}}
    figure = go.Figure(data=list(traces), layout={**base, **layout})
    result: Figure = json.loads(figure.to_json())
    return result


def _bars(counts: Counter[Any], none_label: str) -> tuple[list[str], list[int]]:
    items = sorted(counts.items(), key=lambda kv: (-kv[1], "" if kv[0] is None else str(kv[0])))
    if len(items) > MAX_BARS:
        rest = sum(v for _, v in items[MAX_BARS - 1:])
        items = [*items[:MAX_BARS - 1], ("(others)", rest)]
    return [none_label if k is None else str(k) for k, _ in items], [v for _, v in items]


def _by_territory(data: ReportData) -> tuple[str, str, Figure | None]:
    import plotly.graph_objects as go

    names, values = _bars(data.summary.territories, "(none)")
    figure = _figure([go.Bar(x=names, y=values, marker_color="#1565c0", name="records")],
                     yaxis_title="records assigned") if values else None
    return "chart-territories", "Records assigned by territory", figure


def _by_owner(data: ReportData) -> tuple[str, str, Figure | None]:
    import plotly.graph_objects as go

    names, values = _bars(data.summary.owners, "(unassigned)")
    figure = _figure([go.Bar(x=names, y=values, marker_color="#00897b", name="records")],
                     yaxis_title="records assigned") if values else None
    return "chart-owners", "Records assigned by owner", figure


def _loads(data: ReportData) -> tuple[str, str, Figure | None]:
    import plotly.graph_objects as go

    loads = data.loads[:MAX_BARS]
    if not loads:
        return "chart-loads", "Each rep's open records (leads and prospects) against capacity", None
    reps = [r.rep + ("" if r.active else " (inactive)") for r in loads]
    colours = ["#c62828" if r.capacity is not None and r.open >= r.capacity else "#5c6bc0"
               for r in loads]
    traces = [go.Bar(x=reps, y=[r.open for r in loads], marker_color=colours, name="open records")]
    capped = [(name, r.capacity) for name, r in zip(reps, loads) if r.capacity is not None]
    if capped:
        traces.append(go.Scatter(x=[c[0] for c in capped], y=[c[1] for c in capped],
                                 mode="markers", name="capacity (max_open)",
                                 marker={"symbol": "line-ew-open", "size": 28,
                                         "line": {"width": 3, "color": "#212121"}}))
    return "chart-loads", "Each rep's open records (leads and prospects) against capacity", _figure(
        traces, yaxis_title="open records")


def _funnel(data: ReportData) -> tuple[str, str, Figure | None]:
    import plotly.graph_objects as go

    rows = [(stage, status, data.customers[(stage, status)])
            for stage, status in data.status_order if data.customers.get((stage, status))]
    if not rows:
        return "chart-funnel", "Customers by stage and status", None
    stages = Counter[str]()
    for stage, _, n in rows:
        stages[stage] += n
    labels = [f"{status} ({stage})" for stage, status, _ in rows]
    figure = _figure(
        [go.Funnel(y=labels, x=[n for _, _, n in rows], textinfo="value+percent total",
                   marker={"color": [STAGE_COLOURS.get(stage, "#78909c") for stage, _, _ in rows]},
                   name="customers")],
        margin={"l": 260, "r": 20, "t": 20, "b": 40}, height=max(320, 34 * len(rows) + 80),
    )
    heading = "Customers by stage and status: " + ", ".join(
        f"{stage} {_n(n)}" for stage, n in stages.items())
    return "chart-funnel", heading, figure


def _category_sums(report: ForecastReport | None, key: Callable[[Any], str]
                   ) -> dict[str, list[Decimal]]:
    """Non-cumulative sums per category (closed, commit, best case, pipeline) by key."""
    sums: dict[str, list[Decimal]] = {}
    if report is None:
        return sums
    for row in report.rows[:-1]:  # the totals row is last
        acc = sums.setdefault(key(row), [Decimal(0)] * 4)
        cumulative = (row.closed, row.commit, row.best_case, row.pipeline)
        for i, value in enumerate(cumulative):
            acc[i] += value - (cumulative[i - 1] if i else Decimal(0))
    return sums


def _stacked(sums: dict[str, list[Decimal]], horizontal: bool, title: str) -> Figure | None:
    import plotly.graph_objects as go

    if not sums:
        return None
    keys = list(sums)
    traces = []
    for i, (_, label, colour) in enumerate(CATEGORIES):
        values = [float(sums[k][i]) for k in keys]
        bar = (go.Bar(y=keys, x=values, orientation="h", name=label, marker_color=colour)
               if horizontal else go.Bar(x=keys, y=values, name=label, marker_color=colour))
        traces.append(bar)
    axis = {"xaxis_title": title} if horizontal else {"yaxis_title": title}
    extra = {"height": max(320, 24 * len(keys) + 120), "margin": {"l": 160, "r": 20, "t": 20, "b": 60},
             "yaxis": {"autorange": "reversed"}} if horizontal else {}
    return _figure(traces, barmode="stack", **axis, **extra)


def _basis(data: ReportData) -> str:
    weighted = data.forecast is not None and data.forecast.weighted
    return "weighted amount" if weighted else "amount"


def _forecast_by_period(data: ReportData) -> tuple[str, str, Figure | None]:
    sums = _category_sums(data.forecast, lambda row: row.period)
    ordered = dict(sorted(sums.items(), key=lambda kv: (kv[0] == "unscheduled", kv[0])))
    return ("chart-forecast-period", f"Forecast by {data.period} and category",
            _stacked(ordered, False, _basis(data)))


def _forecast_by_owner(data: ReportData) -> tuple[str, str, Figure | None]:
    sums = _category_sums(data.forecast, lambda row: row.group)
    ordered = dict(sorted(sums.items(), key=lambda kv: -sum(kv[1]))[:MAX_BARS])
    return "chart-forecast-owner", "Forecast by owner", _stacked(ordered, True, _basis(data))


def _forecast_by_manager(data: ReportData) -> tuple[str, str, Figure | None]:
    """Each manager's whole organisation (an opportunity counts for every manager above
    its owner); only drawn when reps have managers."""
    sums = _category_sums(data.by_manager, lambda row: row.group)
    ordered = dict(sorted(sums.items(), key=lambda kv: -sum(kv[1]))[:MAX_BARS])
    return ("chart-forecast-manager", "Forecast by manager (each one's organisation)",
            _stacked(ordered, True, _basis(data)))


# -- tables ----------------------------------------------------------------------------


FLAGGED_COLUMNS = (("source", "text"), ("row", "num"), ("type", "text"), ("id", "text"),
                   ("owner", "text"), ("severity", "text"), ("code", "text"), ("message", "text"))
PROBLEM_COLUMNS = (("where", "text"), ("severity", "text"), ("code", "text"),
                   ("message", "text"))
TABLE_LIMIT = 500  # rows in the page at once (the filter and sort see them all)


def _flagged(data: ReportData) -> str:
    if not data.flagged_total:
        return '<p class="empty">No row in error and no warning.</p>'
    rows = [[f.source, f.row, f.type, f.id, f.owner, f.severity, f.code, f.message]
            for f in data.flagged]
    shown = len(data.flagged)
    cut = (f'<p class="note">The first {_n(shown)} of {_n(data.flagged_total)} are listed; '
           "every one is counted in the summary.</p>" if shown < data.flagged_total else "")
    return (
        '<div class="tools"><input id="flagged-filter" type="search" '
        'placeholder="Filter: any text (id, code, owner, message…)" aria-label="Filter rows">'
        '<select id="flagged-kind" aria-label="Severity"><option value="">errors and warnings'
        '</option><option value="error">errors</option><option value="warning">warnings</option>'
        '</select><span id="flagged-count" class="note"></span></div>' + cut +
        _table("flagged-table", FLAGGED_COLUMNS, rows, 'data-filter="flagged-filter" '
               'data-kind="flagged-kind" data-count="flagged-count"')
    )


def _problems(data: ReportData) -> str:
    if not data.problems:
        return ('<p class="empty">No problem: the configuration validates clean and nothing '
                "is shadowed, ambiguous, uncovered, unreachable, idle or out of order.</p>")
    rows = [[f"{p.file}:{p.line}:{p.column}", p.severity, p.code, p.message]
            for p in data.problems]
    return _table("problems-table", PROBLEM_COLUMNS, rows, "")


def _table(table_id: str, columns: Sequence[tuple[str, str]], rows: list[list[Any]],
           attributes: str) -> str:
    """A table the page's script fills from JSON rows (sorting and filtering them)."""
    head = "".join(f'<th data-type="{kind}">{name}</th>' for name, kind in columns)
    severity = [name for name, _ in columns].index("severity")
    payload = _in_script(json.dumps(rows, ensure_ascii=False))
    return (f'<div class="scroll"><table id="{table_id}" class="data" {attributes} '
            f'data-severity-column="{severity}" data-limit="{TABLE_LIMIT}"><thead><tr>{head}'
            f'</tr></thead><tbody></tbody></table></div>'
            f'<script type="application/json" data-table="{table_id}">{payload}</script>')


# -- text ------------------------------------------------------------------------------


def _top(counts: Counter[Any]) -> str:
    items = sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))
    shown = ", ".join(f"{k} {_n(v)}" for k, v in items[:TOP * 2])
    rest = len(items) - TOP * 2
    return shown + (f", (+{rest} more)" if rest > 0 else "")


def _n(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)


def _money(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01')):,}"


def _in_script(text: str) -> str:
    """JSON text that stays inside its ``<script>`` whatever the data (no ``</script>``
    or ``<!--`` can appear): every ``<`` as its JSON escape."""
    return text.replace("<", "\\u003c")


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"not JSON: {type(value).__name__}")
