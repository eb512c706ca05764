"""Progress on stderr (SPEC §20): rows, rows/s, elapsed, and for files % and time left;
on a terminal, and with ``--progress`` anywhere; never in the data on stdout."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sfa_rules.cli import main
from sfa_rules.cli.progress import Progress, count_rows, progress_for
from sfa_rules.engine.rows import InputRow

REPO = Path(__file__).resolve().parent.parent
LEADS = str(REPO / "examples" / "leads.csv")  # 40 rows
OPPORTUNITIES = str(REPO / "examples" / "opportunities.csv")  # 21 rows
DONE = re.compile(r"^(\d[\d,]*) rows  [\d,]+ rows/s  \d+:\d\d:\d\d elapsed  100% \(done\)$", re.MULTILINE)


def run(args: list[str]) -> Any:
    return CliRunner().invoke(main, args)


# (command line, rows read: diff reads its input twice, its progress counts the first)
COMMANDS = [
    (["dry-run", LEADS, OPPORTUNITIES, "--format", "jsonl"], 65),
    (["dry-run", LEADS, "--format", "csv"], 44),
    (["apply", LEADS, "--state", "{tmp}/state.db", "--format", "jsonl"], 44),
    (["explain", LEADS, "--id", "L-1001"], 44),
    (["forecast", LEADS, OPPORTUNITIES, "--format", "json"], 65),
    (["diff", LEADS, "--base", str(REPO), "--format", "jsonl"], 44),
    (["report", LEADS, "--out", "{tmp}/report.html"], 44),
]


@pytest.mark.parametrize(("args", "rows"), COMMANDS, ids=[" ".join(c[0][:1] + c[0][-2:-1]) for c in COMMANDS])
def test_progress_goes_to_stderr_only(tmp_path: Path, args: list[str], rows: int) -> None:
    argv = [a.replace("{tmp}", str(tmp_path)) for a in args]
    plain = run(argv)
    if "apply" in argv:
        (tmp_path / "state.db").unlink()
    shown = run([*argv, "--progress"])
    assert shown.exit_code == plain.exit_code
    assert shown.stdout == plain.stdout  # the data are the same, byte for byte
    (done,) = DONE.findall(shown.stderr)
    assert int(done.replace(",", "")) == rows
    assert not DONE.search(plain.stderr)  # not a terminal, no --progress: none


def test_the_data_stay_parseable(tmp_path: Path) -> None:
    result = run(["dry-run", LEADS, "--progress", "--format", "jsonl"])
    assert [json.loads(line)["row"] for line in result.stdout.splitlines()] == list(range(1, 45))


def rows(n: int) -> list[InputRow]:
    return [InputRow("leads.csv", i, "lead", {"id": str(i)}) for i in range(1, n + 1)]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_a_line_rewritten_in_place_then_cleared() -> None:
    stream = Terminal()
    progress = Progress(stream, True, 4_096)
    progress.every = 0.0  # every look at the clock shows the line
    assert len(list(progress.follow(iter(rows(4_096))))) == 4_096
    text = stream.getvalue()
    updates = re.findall(r"\r([\d,]+) rows  [\d,]+ rows/s  0:00:\d\d elapsed  (\d+)%", text)
    assert [u[0] for u in updates] == ["512", "1,024", "1,536", "2,048", "2,560", "3,072",
                                       "3,584", "4,096"]
    assert updates[3][1] == "50"
    assert "left" in text
    assert text.endswith("\r" + " " * len(text.rsplit("\r", 2)[-2]) + "\r")  # cleared
    assert "\n" not in text


@pytest.mark.parametrize(("n", "total", "elapsed", "line"), [
    (0, None, 1.0, "0 rows  0 rows/s  0:00:01 elapsed"),
    (50_000, None, 2.0, "50,000 rows  25,000 rows/s  0:00:02 elapsed"),
    (25_000, 100_000, 10.0, "25,000 rows  2,500 rows/s  0:00:10 elapsed  25%  0:00:30 left"),
    (1_000_000, 4_000_000, 3_725.0, "1,000,000 rows  268 rows/s  1:02:05 elapsed  25%  3:06:15 left"),
    (120, 100, 1.0, "120 rows  120 rows/s  0:00:01 elapsed  100%"),  # a row count estimated low
])
def test_the_line(n: int, total: int | None, elapsed: float, line: str) -> None:
    progress = Progress(io.StringIO(), False, total)
    progress.start = 1_000.0  # exact sums: the clock's own value could round 3725 s down
    assert progress.line(n, now=progress.start + elapsed) == line


@pytest.mark.parametrize(("name", "text", "expected"), [
    ("leads.csv", "id\n1\n2\n", 2),
    ("leads.csv", "id\n1\n2", 2),  # no newline at the end
    ("leads.csv", "id\n", 0),
    ("leads.jsonl", '{"id": 1}\n\n{"id": 2}\n', 2),
    ("leads.parquet", "not parquet", None),  # cannot be counted: no percentage
])
def test_rows_are_counted_up_front(tmp_path: Path, name: str, text: str,
                                   expected: int | None) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    assert count_rows((str(path),)) == expected


def test_off_a_terminal_and_unforced_there_is_none() -> None:
    assert progress_for((LEADS,), False, io.StringIO()) is None
    assert progress_for((LEADS,), True, io.StringIO()) is not None
    assert progress_for((LEADS,), False, Terminal()) is None  # a small input: no need
