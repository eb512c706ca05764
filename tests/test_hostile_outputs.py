"""Odd output targets and interrupted runs (issue 14): --out, CSV formulas, full disks,
SIGTERM, a second apply on a busy state. Real files, real subprocesses where the
behaviour is the process's (signals, a full stdout)."""

from __future__ import annotations

import csv
import io
import json
import os
import resource
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from sfa_rules.cli import main
from sfa_rules.report.output import OutputError, open_output
from sfa_rules.state.sqlite_lock import RunLock

SFA = [sys.executable, "-m", "sfa_rules"]


def _leads(folder: Path, n: int = 3) -> Path:
    path = folder / "leads.csv"
    path.write_text("id,country\n" + "".join(f"L{i},US\n" for i in range(n)), encoding="utf-8")
    return path


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


# -- --out targets (item 5) ----------------------------------------------------------------


def test_out_dash_is_stdout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["dry-run", str(_leads(tmp_path)), "--out", "-",
                                       "--format", "jsonl"])
    assert result.exit_code == 0
    assert len(result.stdout.splitlines()) == 3
    assert not (tmp_path / "-").exists()


def test_out_onto_a_device_writes_to_it_and_leaves_it_a_device(tmp_path: Path) -> None:
    """/dev/null stays the character device it is (as root it used to be replaced)."""
    before = os.stat(os.devnull)
    with open_output(os.devnull) as stream:
        stream.write("decisions\n")
    after = os.stat(os.devnull)
    assert stat.S_ISCHR(after.st_mode) and after.st_ino == before.st_ino
    assert _leftovers(Path("/dev")) == []


def test_out_onto_a_fifo_writes_into_the_pipe(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[str] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_text(encoding="utf-8")))
    reader.start()
    result = CliRunner().invoke(main, ["dry-run", str(_leads(tmp_path)), "--out", str(fifo),
                                       "--format", "jsonl"])
    reader.join(timeout=30)
    assert result.exit_code == 0, result.output
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert [json.loads(x)["id"] for x in got[0].splitlines()] == ["L0", "L1", "L2"]
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("append", [False, True])
def test_out_dev_stdout_writes_where_stdout_goes(append: bool, tmp_path: Path) -> None:
    """A pipe (no file to replace), or a log opened with >> (kept, not replaced)."""
    leads = _leads(tmp_path)
    if not append:
        result = subprocess.run([*SFA, "dry-run", str(leads), "--out", "/dev/stdout"],
                                capture_output=True, text=True, timeout=120, check=False)
        assert result.returncode == 0, result.stderr
        assert len(result.stdout.splitlines()) == 3
        return
    log = tmp_path / "log.jsonl"
    log.write_text("earlier\n", encoding="utf-8")
    with log.open("a", encoding="utf-8") as out:
        result = subprocess.run([*SFA, "dry-run", str(leads), "--out", "/dev/stdout"],
                                stdout=out, stderr=subprocess.PIPE, text=True, timeout=120,
                                check=False)
    assert result.returncode == 0, result.stderr
    assert log.read_text(encoding="utf-8").splitlines()[0] == "earlier"
    assert len(log.read_text(encoding="utf-8").splitlines()) == 4


@pytest.mark.parametrize("dangling", [False, True])
def test_out_onto_a_symlink_replaces_its_target_and_keeps_the_link(
    dangling: bool, tmp_path: Path
) -> None:
    real = tmp_path / "data" / "decisions.jsonl"
    real.parent.mkdir()
    if not dangling:
        real.write_text("old\n", encoding="utf-8")
    link = tmp_path / "latest.jsonl"
    link.symlink_to(real)
    result = CliRunner().invoke(main, ["dry-run", str(_leads(tmp_path)), "--out", str(link),
                                       "--format", "jsonl"])
    assert result.exit_code == 0, result.output
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert len(real.read_text(encoding="utf-8").splitlines()) == 3
    assert _leftovers(real.parent) == [] and _leftovers(tmp_path) == []


def test_out_onto_a_symlink_to_a_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "folder").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "folder")
    with (
        pytest.raises(OutputError, match="link: cannot write: is a directory"),
        open_output(tmp_path / "link"),
    ):
        pass


# -- CSV formulas (item 9) --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("owner", "shown"),
    [
        ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("ana.gomez", "ana.gomez"),
        ("a=b", "a=b"),
    ],
)
@pytest.mark.parametrize("raw", [False, True])
def test_csv_output_neutralises_formulas(owner: str, shown: str, raw: bool, tmp_path: Path) -> None:
    path = tmp_path / "leads.csv"
    with path.open("w", encoding="utf-8", newline="") as out:
        csv.writer(out).writerows([["id", "country", "owner"], ["L1", "US", owner]])
    args = ["dry-run", str(path), "--format", "csv", *(["--csv-raw"] if raw else [])]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    (row,) = csv.DictReader(io.StringIO(result.stdout, newline=""))
    assert row["owner"] == (owner if raw else shown)
    assert row["probability"] == "0"  # numbers are numbers: never prefixed


@pytest.mark.parametrize("value", ["\t=1", "\r=1", "-5", "=1", "@x"])
def test_csv_writer_neutralises_every_text_cell(value: str) -> None:
    """Any text column (id, warnings, error message...) is neutralised; numbers are not."""
    from sfa_rules.report.writers import make_writer

    stream = io.StringIO()
    writer = make_writer("csv", stream)
    writer.write({"source": "x.csv", "row": 1, "id": value, "probability": -5,
                  "warnings": [value], "error": {"code": "bad-date", "message": value,
                                                  "field": None}})
    (row,) = csv.DictReader(io.StringIO(stream.getvalue(), newline=""))
    assert (row["id"], row["warnings"], row["error_message"]) == ("'" + value,) * 3
    assert row["probability"] == "-5"


# -- write failures (item 11) -----------------------------------------------------------------


def _limit_file_size() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (50_000, 50_000))


def test_a_full_disk_under_out_is_one_line_and_leaves_nothing(tmp_path: Path) -> None:
    """A file size limit (EFBIG, as ENOSPC on a full disk): exit 2, one line, no temp."""
    out = tmp_path / "out" / "decisions.jsonl"
    out.parent.mkdir()
    leads = _leads(tmp_path, 3000)
    result = subprocess.run([*SFA, "dry-run", str(leads), "--out", str(out)],
                            capture_output=True, text=True, preexec_fn=_limit_file_size,
                            timeout=120, check=False)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == f"sfa: {out}: cannot write: File too large"
    assert "Traceback" not in result.stderr
    assert list(out.parent.iterdir()) == []


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize(
    "args",
    [["dry-run", "{leads}"], ["dry-run", "{leads}", "--out", "/dev/full"], ["schema"],
     ["forecast", "{leads}", "--format", "json"]],
    ids=["dry-run-stdout", "dry-run-out", "schema", "forecast"],
)
def test_a_full_stdout_is_one_line_exit_2(args: list[str], tmp_path: Path) -> None:
    leads = str(_leads(tmp_path, 2000))
    argv = [a.format(leads=leads) for a in args]
    with open("/dev/full", "w") as full:
        result = subprocess.run([*SFA, *argv], stdout=full, stderr=subprocess.PIPE, text=True,
                                timeout=120, check=False)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and "Exception ignored" not in result.stderr
    target = "/dev/full" if "--out" in argv else "stdout"
    assert f"sfa: {target}: cannot write: No space left on device" in result.stderr


# -- SIGTERM and a busy state (item 13) ---------------------------------------------------------


def _wait_for(predicate: object, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_mid_run_leaves_no_temporary_file(sig: int, tmp_path: Path) -> None:
    leads = _leads(tmp_path, 300_000)
    out = tmp_path / "decisions.jsonl"
    run = subprocess.Popen([*SFA, "apply", str(leads), "--state", str(tmp_path / "st.db"),
                            "--out", str(out)], stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(lambda: _leftovers(tmp_path) and (tmp_path / "st.db").exists())
        time.sleep(0.5)
        run.send_signal(sig)
        _, err = run.communicate(timeout=60)
    finally:
        run.kill()
    assert run.returncode == 128 + sig, err  # 143 SIGTERM, 130 Ctrl-C
    assert "Traceback" not in err and "Aborted!" not in err
    assert ("sfa: stopped by " + ("SIGTERM" if sig == signal.SIGTERM else "Ctrl-C")) in err
    assert _leftovers(tmp_path) == [] and not out.exists()
    assert not (tmp_path / "st.db.lock").exists()


def test_an_apply_removes_its_lock_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["apply", str(_leads(tmp_path)), "--state",
                                       str(tmp_path / "st.db")])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["leads.csv", "st.db"]


def test_a_second_apply_waits_for_the_first_and_says_so(tmp_path: Path) -> None:
    """No time limit from the CLI: it waits while another run holds the state."""
    state = tmp_path / "st.db"
    holder = RunLock(f"{state}.lock", str(state), None)
    try:
        run = subprocess.Popen([*SFA, "apply", str(_leads(tmp_path)), "--state", str(state),
                                "--format", "jsonl"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
        time.sleep(3)  # well past the old 0.05 s polls, and it has not given up
        assert run.poll() is None
    finally:
        holder.release()
    out, err = run.communicate(timeout=60)
    assert run.returncode == 0, err
    assert f"sfa: state {state} is in use by another run (pid {os.getpid()}); waiting for it " \
           "to finish" in err
    assert len(out.splitlines()) == 3
    assert not Path(f"{state}.lock").exists()


def test_ctrl_c_while_waiting_for_the_state_gives_up_with_exit_130(tmp_path: Path) -> None:
    """README: a run waiting for another's state waits until Ctrl-C; then it says so and
    exits 130 (not click's 'Aborted!' and 1, a row's code), leaving the state as it was."""
    state = tmp_path / "st.db"
    holder = RunLock(f"{state}.lock", str(state), None)
    try:
        run = subprocess.Popen([*SFA, "apply", str(_leads(tmp_path)), "--state", str(state)],
                               stderr=subprocess.PIPE, text=True)
        time.sleep(3)  # started, and waiting (as in the test above)
        assert run.poll() is None
        run.send_signal(signal.SIGINT)
        _, err = run.communicate(timeout=60)
    finally:
        holder.release()
        run.kill()
    assert run.returncode == 130, err
    assert "waiting for it to finish" in err and err.endswith("sfa: stopped by Ctrl-C\n")
    assert "Traceback" not in err and "Aborted!" not in err


def test_the_lock_is_never_held_twice_while_files_come_and_go(tmp_path: Path) -> None:
    """Many runs taking and releasing (and so removing) the lock: never two at once."""
    path = str(tmp_path / "st.db.lock")
    holders: list[int] = []
    overlaps: list[int] = []

    def worker() -> None:
        for _ in range(30):
            lock = RunLock(path, "st.db", None)
            holders.append(1)
            if len(holders) > 1:
                overlaps.append(len(holders))
            time.sleep(0.001)
            holders.pop()
            lock.release()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert overlaps == [] and not os.path.exists(path)
