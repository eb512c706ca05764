"""Hostile configurations (issue 14): unsafe regexes, huge numbers, files that are not
files, and a property run over the YAML loader. Everything is a problem with a
position and a code, never a traceback or a hang.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import WriteConfig
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sfa_rules.api import validate_config as validate
from sfa_rules.cli.main import main
from sfa_rules.config.loader import load_config
from sfa_rules.config.yamlread import load
from sfa_rules.criteria.regexguard import TIMEOUT, GuardedPattern
from sfa_rules.criteria.regexsafety import unsafe_reason

TERRITORIES = """\
reps:
  - {id: ana}
  - {id: bob}
territories:
  - id: west
    when: {country: US}
    members: [{rep: ana}]
  - id: pool
    default: true
    members: [{rep: bob}]
"""
LIFECYCLE = "statuses:\n  - {id: LEAD-New, stage: lead, probability: 0}\n"


class Run:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err


def sfa(*args: str) -> Run:
    result = CliRunner().invoke(main, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # a traceback is never an acceptable outcome
    return Run(result.exit_code, result.stdout, result.stderr)


def configuration(write_config: WriteConfig, **files: str) -> Path:
    base = {"territories/t.yaml": TERRITORIES, "rules/lifecycle.yaml": LIFECYCLE}
    base.update({name.replace("__", "/").replace("_yaml", ".yaml"): text
                 for name, text in files.items()})
    return write_config(base)


def quoted(text: str) -> str:
    """``text`` as a YAML single-quoted scalar (backslashes stay as they are)."""
    return "'" + text.replace("'", "''") + "'"


def codes(folder: Path) -> list[str]:
    _, _, problems = validate(folder)
    return [f"{p.file}:{p.line}:{p.column} {p.code}" for p in problems
            if p.severity == "error"]


# -- item 3: regexes ----------------------------------------------------------------

UNSAFE = [
    r"^(a+)+$", r"(a|a)+", r"^(\w+\s?)*$", r"(x+x+)+y", r"^(a|aa)+$", r"^(\d+)*$",
    r"([a-z]+)*[0-9]", r"(\d{1,3})+$", r"(a|a?b)*", r"(ab|a|b)*x", r"((a+)b?)+", r"(.*a)+",
    r"(a*)*", r"(\w|\d\d)+$", r"(a|ab|b)+$", r"^(([a-z])+.)+[A-Z]([a-z])+$",
]
SAFE = [
    r"@(gmail|yahoo)\.", r"^acme", r"^(\w+\.)*\w+@", r"(ab+)*", r"(ab|ac)+", r"(a|ab)+",
    r"^\d{5}(-\d{4})?$", r"^[A-Z]{2}$", r"(a+)++", r"(?>a+)+", r"^(\d+,)*\d+$", r"(a+){2}",
    r"^(?:Mr|Mrs|Ms)\.? ", r"\b(inc|llc|ltd)\b", r"^(\+\d{1,3} )?\d+$", r"(foo|bar)+",
    r"^[^@]+@[^@]+\.[a-z]{2,}$", r"([a-z]+-)+[a-z]+", r"(?=a+)b", r"(\w|\d)+",
]


@pytest.mark.parametrize("pattern", UNSAFE)
def test_validate_refuses_an_exponential_regex(write_config: WriteConfig, pattern: str) -> None:
    folder = configuration(write_config, rules__r_yaml=(
        "sales_rules:\n  - id: r\n    when:\n      company: {regex: " + quoted(pattern) + "}\n"))
    assert codes(folder) == ["rules/r.yaml:4:24 unsafe-regex"]
    run = sfa("validate", "--config", str(folder))
    assert run.code == 1
    assert "rules/r.yaml:4:24: error: 'company': regex" in run.out
    assert "exponential time" in run.out


@pytest.mark.parametrize("pattern", SAFE)
def test_validate_accepts_a_linear_regex(write_config: WriteConfig, pattern: str) -> None:
    folder = configuration(write_config, rules__r_yaml=(
        "sales_rules:\n  - id: r\n    when:\n      company: {regex: " + quoted(pattern) + "}\n"))
    assert codes(folder) == []


def test_the_issue_regex_no_longer_hangs_a_run(write_config: WriteConfig, tmp_path: Path) -> None:
    """^(a+)+$ is refused before any row is read: the run is a usage of a bad config."""
    folder = configuration(write_config, territories__x_yaml=(
        "territories:\n  - id: evil\n    priority: 1\n    when: {company: {regex: '^(a+)+$'}}\n"
        "    members: [{rep: ana}]\n"))
    leads = tmp_path / "leads.csv"
    leads.write_text("id,company,country\nL1," + "a" * 28 + "b,US\n", encoding="utf-8")
    started = time.monotonic()
    run = sfa("dry-run", "--config", str(folder), str(leads), "--format", "jsonl")
    assert run.code == 1 and run.out == ""
    assert "configuration has errors" in run.err
    assert time.monotonic() - started < 10


def test_a_slow_match_is_given_up_with_a_warning_on_its_row(
        write_config: WriteConfig, tmp_path: Path) -> None:
    """(a{1,9}){1,9}$ passes the static check (bounded repeats) yet backtracks for long
    on 60 a's and a b: the match gives up after TIMEOUT, that row gets a warning, the
    others are decided as usual."""
    folder = configuration(write_config, territories__x_yaml=(
        "territories:\n  - id: slow\n    priority: 1\n    when: {company: {regex: '(a{1,9}){1,9}$'}}\n"
        "    members: [{rep: ana}]\n"))
    assert codes(folder) == []
    leads = tmp_path / "leads.csv"
    hostile = "a" * 60 + "b"
    leads.write_text(f"id,company,country\nL1,{hostile},US\nL2,aaa,CA\nL3,{hostile},CA\n",
                     encoding="utf-8")
    started = time.monotonic()
    run = sfa("dry-run", "--config", str(folder), str(leads), "--format", "jsonl")
    elapsed = time.monotonic() - started
    decisions = [__import__("json").loads(line) for line in run.out.splitlines()]
    assert [d["territory"] for d in decisions] == ["west", "slow", "pool"]
    assert run.code == 0
    for d in (decisions[0], decisions[2]):
        (warning,) = d["warnings"]
        assert warning.startswith("company: the regex '(a{1,9}){1,9}$' took more than")
    assert decisions[1]["warnings"] == []
    # one time-out for the value: the third row does not wait again
    assert elapsed < 8 * TIMEOUT + 5


RE_TEXTS = ["", "a", "Acme Corp", "ACME", "john@GMAIL.com", "x@yahoo.co", "94107", "9410",
            "straße", "ǅ", "İstanbul", "kelvin \u212a", "ſ", "a\nb", "tab\there", "__", "𝔘",
            "jose\u0301", "½ price", "x\x1cy", "\u00a0", "a_b-c", "Ⅻ", "٣"]
RE_PATTERNS = [r"^acme", r"@(gmail|yahoo)\.", r"^\d{5}$", r"\bcorp\b", r"^[a-z]+$", r"ss",
               r"^.$", r"a.b", r"\s", r"\w+", r"[^a-z]", r"k", r"s", r"i", r"(?i)ACME",
               r"^$", r"\d{4,}", r"[[:alpha:]]", r"(?s)a.b", r"(?m)^b", r"k+", r"s+\b", r"i+",
               r"^stra(ss|ß)e?", r"[a-z]+\d*", r"\W+", r"\bİ", r"^\w+$", r"\s+", r"\S+\s*",
               r"\b\w+\b", r"\B\w+", r"[\w-]+$", r"[^\s]+", r"\d+", r"[]a]+", r"(?a)\w+",
               r"(?x) \w+ # a word"]


@pytest.mark.parametrize("case_sensitive", [False, True])
@pytest.mark.parametrize("pattern", RE_PATTERNS)
def test_guarded_patterns_decide_as_re_does(pattern: str, case_sensitive: bool) -> None:
    """The regex package in VERSION0 decides as re does (Python re syntax, SPEC §3)."""
    flags = 0 if case_sensitive else re.IGNORECASE
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        reference = re.compile(pattern, flags)
    guarded = GuardedPattern(pattern, flags)
    for text in RE_TEXTS:
        folded = text if case_sensitive else text.lower()
        assert guarded.search(folded) == (reference.search(folded) is not None), (text,)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="aAbB1 _.-@ßİ\n\u0301\u0307½\x1c\u00a0", max_size=12),
       st.sampled_from(RE_PATTERNS), st.booleans())
def test_guarded_patterns_agree_with_re_on_any_text(text: str, pattern: str, fold: bool) -> None:
    import warnings
    flags = re.IGNORECASE if fold else 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        expected = re.compile(pattern, flags).search(text) is not None
    assert GuardedPattern(pattern, flags).search(text) == expected


def test_a_regex_nested_past_res_parser_is_bad_regex(write_config: WriteConfig) -> None:
    pattern = "(" * 2000 + "a" + ")" * 2000
    folder = configuration(write_config, rules__r_yaml=(
        "sales_rules:\n  - id: r\n    when:\n      company: {regex: " + quoted(pattern) + "}\n"))
    assert codes(folder) == ["rules/r.yaml:4:24 bad-regex"]


def test_unsafe_reason_never_raises_on_odd_patterns() -> None:
    for pattern in ["(" * 300 + "a" + ")" * 300 + "+", r"(a)(?(1)b|c)+", r"(?<=ab)c+",
                    r"\1?(a)", r"[\d\D]+", r"(?x) a + # comment"]:
        unsafe_reason(pattern, re.IGNORECASE)  # any answer, but an answer


# -- item 11: numbers too large to read ---------------------------------------------

@pytest.mark.parametrize("written, what", [
    ("9" * 5000, "5000 digits"),
    ("-" + "1" * 4301, "4301 digits"),
    ("1" * 400 + ".5", "401 digits"),
    ("1" + "0" * 400, "401 digits"),  # within int()'s 4,300 digits, past any float
    ("-18" + "0" * 307, "309 digits"),
])
def test_a_number_too_large_is_a_problem_at_its_position(
        write_config: WriteConfig, written: str, what: str) -> None:
    folder = configuration(write_config, rules__big_yaml=(
        "sales_rules:\n  - id: big\n    when: {employees: {gte: " + written + "}}\n"))
    _, _, problems = validate(folder)
    # one problem: the criteria compiler does not add a type error for the refused value
    (first,) = problems
    assert (first.file, first.line, first.column, first.code) == (
        "rules/big.yaml", 3, 29, "bad-number")
    assert what in first.message
    run = sfa("validate", "--config", str(folder))
    assert run.code == 1 and "rules/big.yaml:3:29: error: a number of" in run.out


def test_a_tag_in_criteria_is_reported_once(write_config: WriteConfig) -> None:
    folder = configuration(write_config, rules__r_yaml=(
        "sales_rules:\n  - id: r\n    when: {country: {eq: !!str US}}\n"))
    assert codes(folder) == ["rules/r.yaml:3:26 unsafe-tag"]


def test_a_long_number_within_the_limit_still_reads(write_config: WriteConfig) -> None:
    folder = configuration(write_config, rules__big_yaml=(
        "sales_rules:\n  - id: big\n    when: {employees: {gte: " + "17" + "0" * 307 + "}}\n"),
        territories__t_yaml=TERRITORIES.replace("when: {country: US}",
                                                "when: {country: US, rule: big}"))
    assert codes(folder) == []  # 1.7e308: analysed, compiled and run like any number
    leads = folder / "leads.csv"
    leads.write_text("id,country,employees\nL1,US,5\nL2,US,1e500\nL3,US,1.75e308\n",
                     encoding="utf-8")
    run = sfa("dry-run", "--config", str(folder), str(leads), "--format", "jsonl")
    assert run.code == 0
    assert [line.count('"territory":"west"') for line in run.out.splitlines()] == [0, 0, 1]


# -- item 12: files that are not files ----------------------------------------------

def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _dev_zero(path: Path) -> None:
    path.symlink_to("/dev/zero")


def _directory(path: Path) -> None:
    path.mkdir()
    (path / "inner.txt").write_text("x", encoding="utf-8")


def _dangling(path: Path) -> None:
    path.symlink_to(path.parent / "missing-target.yaml")


def _loop(path: Path) -> None:
    path.symlink_to(path)


@pytest.mark.parametrize("make, code, what", [
    (_fifo, "not-a-file", "a FIFO (named pipe)"),
    (_dev_zero, "not-a-file", "a character device"),
    (_dangling, "unreadable-file", "missing-target.yaml, which does not exist: fix the link"),
    (_loop, "unreadable-file", "a loop of symlinks: point the link at a file"),
])
def test_a_yaml_name_that_is_not_a_regular_file_is_refused(
        write_config: WriteConfig, make: Any, code: str, what: str) -> None:
    folder = configuration(write_config)
    make(folder / "rules" / "odd.yaml")
    started = time.monotonic()
    _, _, problems = load_config(folder)
    assert time.monotonic() - started < 5  # never a hang
    assert [(p.file, p.line, p.column, p.code) for p in problems] == [
        ("rules/odd.yaml", 1, 1, code)]
    assert what in problems[0].message
    run = sfa("validate", "--config", str(folder))
    assert run.code == 1 and "rules/odd.yaml:1:1: error: " in run.out and what in run.out


def test_a_directory_named_yaml_is_walked_not_read(write_config: WriteConfig) -> None:
    folder = configuration(write_config)
    _directory(folder / "rules" / "odd.yaml")
    assert codes(folder) == []


def test_a_symlink_to_a_regular_file_is_read(write_config: WriteConfig, tmp_path: Path) -> None:
    elsewhere = tmp_path / "shared-reps.yaml"
    elsewhere.write_text("reps:\n  - {id: carla}\n", encoding="utf-8")
    folder = configuration(write_config)
    (folder / "territories" / "more.yaml").symlink_to(elsewhere)
    config, _, problems = load_config(folder)
    assert problems == [] and [r.id for r in config.reps] == ["carla", "ana", "bob"]


def test_a_file_over_the_size_limit_is_refused(write_config: WriteConfig,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from sfa_rules.config import files
    monkeypatch.setattr(files, "MAX_FILE_BYTES", 1024)
    folder = configuration(write_config, rules__large_yaml="# " + "x" * 2000 + "\n")
    _, _, problems = load_config(folder)
    assert [(p.file, p.code) for p in problems] == [("rules/large.yaml", "file-too-large")]
    assert "split it into several files" in problems[0].message


def test_the_size_limit_is_tens_of_megabytes() -> None:
    from sfa_rules.config.files import MAX_FILE_BYTES
    assert MAX_FILE_BYTES == 32 * 1024 * 1024  # the docs say 32 MiB


# -- the YAML loader never raises ---------------------------------------------------

YAML_PIECES = st.sampled_from([
    "a", "b:", " ", "  ", "\n", "- ", "[", "]", "{", "}", ",", ":", "&x ", "*x", "!!str ",
    "!t ", "<<: ", "'", '"', "|", ">", "#", "~", "null", "true", "NO", "01234", "1e999",
    "9" * 50, "9" * 4400, "1." + "9" * 400, "-0.5", "\t", "%YAML 1.2\n", "---\n", "...\n",
    "\x00", "\ud800", "\ufeff", "é", "? ", "id: x", "when: {country: US}", "territories:",
    "sales_rules:", "reps:", "regex: '(a+)+'",
])
YAML_TEXTS = st.one_of(st.lists(YAML_PIECES, max_size=25).map("".join), st.text(max_size=80))


def _loads_cleanly(text: str) -> None:
    doc = load(text, "f.yaml")  # returns: every problem is a value
    for problem in doc.problems:
        assert problem.file == "f.yaml" and problem.line >= 1 and problem.column >= 1
        assert re.fullmatch(r"[a-z]+(-[a-z]+)*", problem.code)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(YAML_TEXTS)
def test_yaml_reading_never_raises(text: str) -> None:
    _loads_cleanly(text)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(YAML_TEXTS)
def test_loading_a_configuration_never_raises(write_config: WriteConfig, text: str) -> None:
    """Every text gives problems or a configuration: loading, the checks and the
    criteria compiler (validate) included."""
    text = text.encode("utf-8", "replace").decode("utf-8")  # a file holds no lone surrogate
    folder = write_config({"territories/t.yaml": text, "rules/l.yaml": LIFECYCLE})
    config, _, problems = validate(folder)
    assert config is not None or any(p.severity == "error" for p in problems)


KEYS = st.sampled_from(["id", "when", "rules", "parent", "members", "rep", "priority",
                        "default", "regex", "gte", "between", "any", "all", "not", "rule",
                        "country", "zip", "prefix", "in", "exists", "weight", "match"])
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6),
                    st.floats(allow_nan=False, allow_infinity=False),
                    st.sampled_from(["a", "r0", "t0", "(a+)+", "(", "US", "2026-01-01", ""]))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=4)), max_leaves=20)
ITEMS = st.lists(st.dictionaries(KEYS, VALUES, max_size=5), max_size=4)


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(ITEMS, ITEMS)
def test_validating_odd_structures_never_raises(write_config: WriteConfig,
                                                territories: list[Any],
                                                rules: list[Any]) -> None:
    """Shapes close to a configuration, with odd values anywhere: the models, the
    checks, the criteria compiler and the analysis answer with problems."""
    import yaml
    folder = write_config({
        "territories/t.yaml": yaml.safe_dump({"territories": territories, "reps": [{"id": "a"}]}),
        "rules/r.yaml": yaml.safe_dump({"sales_rules": rules}),
        "rules/l.yaml": LIFECYCLE,
    })
    config, _, problems = validate(folder)
    assert config is not None or any(p.severity == "error" for p in problems)


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("SFA_SLOW") != "1", reason="runs with SFA_SLOW=1")
@settings(max_examples=5000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(YAML_TEXTS)
def test_yaml_reading_never_raises_slow(text: str) -> None:
    _loads_cleanly(text)


@pytest.mark.parametrize("pattern, guarded", [
    (r"^acme", False), (r"@(gmail|yahoo)\.", False), (r"^\d{5}$", False),
    (r"\b(inc|llc|ltd)\b", False), (r"^\d{5}(-\d{4})?$", True), (r"\w+@", True),
    (r"(a|a){50}", True), (r"[[:alpha:]]", False),
])
def test_which_patterns_run_with_the_time_limit(pattern: str, guarded: bool) -> None:
    """Quantifier-free patterns cannot backtrack for long and stay on re (faster);
    the others run with the documented 0.25 s limit."""
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        assert GuardedPattern(pattern, re.IGNORECASE).guarded is guarded
    assert TIMEOUT == 0.25


@pytest.mark.parametrize("engine", ["native", "durable"])
def test_a_slow_guard_regex_warns_on_its_transaction_row(tmp_path: Path, engine: str) -> None:
    import json
    import shutil

    from conftest import REPO

    from sfa_rules.lifecycle import durable
    if engine == "durable" and not durable.available():
        pytest.skip("durable-rules is not installed here")
    folder = tmp_path / "config"
    for sub in ("rules", "territories"):
        shutil.copytree(REPO / sub, folder / sub)
    lifecycle = folder / "rules" / "lifecycle.yaml"
    lifecycle.write_text(lifecycle.read_text(encoding="utf-8").replace(
        "      to: CUSTOMER-Closed Won\n",
        "      to: CUSTOMER-Closed Won\n      when: {note: {regex: '(a{1,9}){1,9}$'}}\n", 1),
        encoding="utf-8")
    orders = tmp_path / "sales_orders.csv"
    orders.write_text(f"id,customer,note\nS-1,L-1001,{'a' * 60}b\nS-2,L-1002,aaa\n",
                      encoding="utf-8")
    run = sfa("dry-run", "--config", str(folder), "--lifecycle-engine", engine,
              str(REPO / "examples" / "leads.csv"), str(orders), "--format", "jsonl")
    *_, slow, fast = [json.loads(line) for line in run.out.splitlines()]
    assert slow["transition"] is None and fast["transition"] == "sale-makes-customer"
    (warning,) = slow["warnings"]
    assert warning.startswith("note: the regex '(a{1,9}){1,9}$' took more than 0.25 s")
    assert fast["warnings"] == []


@pytest.mark.parametrize("pattern", [r"\w+", r"\W+", r"\s+", r"\S+", r"[\w.]+", r"[\s,]+",
                                     r"x+\b", r"x+\B"])
def test_the_guarded_classes_are_res_on_marks_numbers_and_controls(pattern: str) -> None:
    """regex's own \\w takes combining marks and leaves out ½; its \\s leaves out
    \\x1c-\\x1f: the guarded patterns read them as re does, on every such character."""
    import unicodedata
    guarded, reference = GuardedPattern(pattern), re.compile(pattern)
    assert guarded.guarded
    lead = "x" if "b" in pattern.lower() else ""
    for code in range(0x30000):
        char = chr(code)
        if 0xD800 <= code <= 0xDFFF or unicodedata.category(char) not in (
                "Mn", "Mc", "Me", "No", "Nl", "Cc", "Zs", "Pc", "Lm"):
            continue
        text = lead + char
        assert guarded.search(text) == (reference.search(text) is not None), hex(code)
