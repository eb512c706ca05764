"""``sfa report`` opened in a real headless Chromium (SPEC §20).

Debian's ``chromium`` (``apt-get install chromium``; ``.ci/run`` installs it where it
is missing), driven by playwright with ``executable_path`` (never ``playwright
install``). Skipped only when that browser is absent. Asserts what a person sees: the
page loads with no console error and no request but its own file, every chart draws
its marks, the table filters and sorts. The render time of the CRM export's report is
measured and printed, never asserted (the machine is shared).

``SFA_REPORT_SCREENSHOT=docs/report.png python -m pytest tests/test_report_browser.py
-k screenshot`` refreshes the README's screenshot.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import crm_export
import pytest
from click.testing import CliRunner
from playwright import sync_api  # the test extra: only a missing browser skips

from sfa_rules.cli import main

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
if not os.path.exists(CHROMIUM):
    pytest.skip("Debian's chromium is not installed (apt-get install chromium)",
                allow_module_level=True)

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = [str(REPO / "examples" / name) for name in
            ("leads.csv", "opportunities.csv", "estimates.csv", "sales_orders.csv")]
CHARTS = ("chart-territories", "chart-owners", "chart-loads", "chart-funnel",
          "chart-forecast-period", "chart-forecast-owner")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 60_000  # a generous bound for a loaded machine, not a performance target


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    profile = tmp_path_factory.mktemp("chromium-profile")  # a fresh --user-data-dir
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=FLAGS,
            viewport={"width": 1400, "height": 900})
        yield context
        context.close()


class Page:
    """A report opened in a new tab, with what it logged and requested."""

    def __init__(self, browser: Any, path: Path) -> None:
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page = browser.new_page()
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.url = path.resolve().as_uri()
        started = time.perf_counter()
        self.page.goto(self.url)
        self.page.wait_for_selector("body[data-charts-rendered]", state="attached",
                                    timeout=TIMEOUT_MS)
        self.seconds = time.perf_counter() - started

    def visible_rows(self, table: str = "#flagged-table") -> int:
        count: int = self.page.locator(f"{table} tbody tr:visible").count()
        return count

    def marks(self, chart_id: str) -> int:
        """The drawn shapes of a chart's traces (bars, funnel boxes, markers)."""
        count: int = self.page.evaluate(
            """id => Array.from(document.querySelectorAll('#' + id + ' .trace path'))
                       .filter(p => (p.getAttribute('d') || '').length > 2).length""", chart_id)
        return count


def make_report(tmp_path: Path, files: list[str]) -> Path:
    out = tmp_path / "report.html"
    result = CliRunner().invoke(main, ["report", *files, "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def examples(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Page:
    return Page(browser, make_report(tmp_path_factory.mktemp("examples"), EXAMPLES))


def test_loads_with_no_console_error_and_no_request(examples: Page) -> None:
    assert examples.errors == []
    assert examples.requests == [examples.url]  # the page itself, nothing else


@pytest.mark.parametrize("chart_id", CHARTS)
def test_every_chart_renders_its_marks(examples: Page, chart_id: str) -> None:
    assert examples.page.locator(f"#{chart_id} svg.main-svg").count() >= 1
    assert examples.marks(chart_id) > 0
    assert examples.page.get_attribute("body", "data-charts-rendered") == str(len(CHARTS))


# (what is typed, the rows left: the examples have 7 errors and warnings)
FILTERS = [("", 7), ("skipped-members", 2), ("L-1017", 1), ("NO-CUSTOMER", 1),
           ("nothing matches this", 0)]


@pytest.mark.parametrize(("text", "rows"), FILTERS, ids=[f[0] or "empty" for f in FILTERS])
def test_the_table_filters_as_you_type(examples: Page, text: str, rows: int) -> None:
    box = examples.page.locator("#flagged-filter")
    box.fill("")
    box.type(text)
    assert examples.visible_rows() == rows
    assert examples.page.inner_text("#flagged-count").startswith(f"{rows} of 7 match")
    box.fill("")


def test_the_severity_choice_filters(examples: Page) -> None:
    examples.page.select_option("#flagged-kind", "error")
    assert examples.visible_rows() == 0
    examples.page.select_option("#flagged-kind", "warning")
    assert examples.visible_rows() == 7
    examples.page.select_option("#flagged-kind", "")


def test_a_header_click_sorts(examples: Page) -> None:
    header = examples.page.locator("#flagged-table th", has_text="code")
    header.click()
    codes = examples.page.locator("#flagged-table tbody tr td:nth-child(7)").all_inner_texts()
    assert codes == sorted(codes)
    header.click()
    again = examples.page.locator("#flagged-table tbody tr td:nth-child(7)").all_inner_texts()
    assert again == sorted(codes, reverse=True)
    assert header.get_attribute("aria-sort") == "descending"


@pytest.mark.skipif(not crm_export.available(), reason="no CRM export in shared/data")
def test_the_crm_export_report_renders(browser: Any, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    files = [str(p) for p in crm_export.convert(tmp_path / "crm")]
    started = time.perf_counter()
    path = make_report(tmp_path, files)
    built = time.perf_counter() - started
    page = Page(browser, path)
    assert page.errors == [] and page.requests == [page.url]
    for chart_id in CHARTS:
        assert page.marks(chart_id) > 0, chart_id
    page.page.locator("#flagged-filter").type("no-customer")
    assert page.page.inner_text("#flagged-count").startswith("1425 of ")
    size = path.stat().st_size / 1e6
    with capsys.disabled():  # a figure for the record, not an assertion
        print(f"\n[report] CRM export (8,885 rows): sfa report {built:.2f} s, page "
              f"{size:.1f} MB, rendered in Chromium in {page.seconds:.2f} s")


@pytest.mark.skipif(not os.environ.get("SFA_REPORT_SCREENSHOT"), reason="refreshes docs/ on demand")
def test_screenshot(browser: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = Path(os.environ["SFA_REPORT_SCREENSHOT"]).resolve()
    monkeypatch.chdir(REPO)  # the page then names the files as the README's command does
    page = Page(browser, make_report(tmp_path, [os.path.relpath(f, REPO) for f in EXAMPLES]))
    page.page.screenshot(path=str(target), full_page=True)
