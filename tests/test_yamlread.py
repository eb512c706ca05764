"""Strict YAML reading: typing rules, positions, refused constructs, syntax errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from sfa_rules.config import yamlread
from sfa_rules.config.yamlread import MAX_EXPANDED, load, scalar

# libyaml's parser where PyYAML has it, and always the pure-Python fallback: both
# must report the same problems at the same positions.
PARSERS = [pytest.param(c, id=c.__name__)
           for c in dict.fromkeys([yamlread.Parser, yamlread.PyParser])]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("true", True), ("false", False),
        ("True", "True"), ("FALSE", "FALSE"), ("yes", "yes"), ("NO", "NO"), ("on", "on"),
        ("off", "off"), ("y", "y"),
        ("0", 0), ("94107", 94107), ("-12", -12), ("+3", 3),
        ("01234", "01234"), ("00", "00"), ("1_000", "1_000"), ("0x1F", "0x1F"),
        ("0o17", "0o17"), ("1e3", "1e3"), ("1,000", "1,000"),
        ("1.5", 1.5), ("-0.25", -0.25), ("10.", 10.0), ("01.5", "01.5"), (".5", ".5"),
        (".inf", ".inf"), (".NaN", ".NaN"),
        ("null", None), ("~", None), ("", None), ("Null", "Null"), ("NULL", "NULL"),
        ("2026-12-20", "2026-12-20"), ("12:30:00", "12:30:00"), ("1:30", "1:30"),
        ("LEAD-New", "LEAD-New"),
    ],
)
def test_plain_scalars(text: str, value: Any) -> None:
    assert scalar(text) == value
    assert isinstance(scalar(text), type(value))
    # a number whose text is not its value's keeps the text, for criteria (1.50 is not 1.5)
    rewritten = type(value) in (int, float) and str(value) != text
    assert getattr(scalar(text), "written", None) == (text if rewritten else None)
    doc = load(f"v: {text}\n", "f.yaml")
    assert doc.problems == []
    assert doc.data == {"v": value}


@pytest.mark.parametrize("text", ["'true'", '"01234"', "'12'", '"null"', "|\n  42\n", ">\n  yes\n"])
def test_quoted_and_block_scalars_are_text(text: str) -> None:
    doc = load(f"v: {text}", "f.yaml")
    assert isinstance(doc.data["v"], str)


def test_keys_are_always_text() -> None:
    doc = load("1: a\ntrue: b\nnull: c\n01: d\n", "f.yaml")
    assert doc.data == {"1": "a", "true": "b", "null": "c", "01": "d"}


@pytest.mark.parametrize("parser", PARSERS)
def test_positions_of_values_and_keys_are_one_based(
    parser: type[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(yamlread, "Parser", parser)
    text = "territories:\n  - id: us-west\n    members:\n      - {rep: ana, weight: 2}\n"
    doc = load(text, "t.yaml")
    at, key_at = doc.positions.at, doc.positions.key_at
    assert at(()) == (1, 1)
    assert at(("territories",)) == (2, 3)
    assert at(("territories", 0)) == (2, 5)
    assert at(("territories", 0, "id")) == (2, 9)
    assert at(("territories", 0, "members", 0, "weight")) == (4, 28)
    assert key_at(("territories", 0, "members")) == (3, 5)
    assert key_at(("territories", 0, "members", 0, "weight")) == (4, 20)
    # Past the data: the longest known prefix; a key only where there is one.
    assert at(("territories", 0, "members", 3, "rep")) == (4, 7)
    assert at(("territories", 0, "id", "x")) == (2, 9)
    assert key_at(("territories", 0)) is None
    assert key_at(("territories", 0, "nope")) is None
    assert key_at(()) is None


def test_empty_document_is_none_without_problems() -> None:
    for text in ("", "# only a comment\n", "---\n"):
        doc = load(text, "f.yaml")
        assert (doc.data, doc.problems) == (None, [])


@pytest.mark.parametrize(
    ("text", "line", "column", "code"),
    [
        ("a: 1\na: 2\n", 2, 1, "duplicate-key"),
        ("a:\n  b: 1\n  c: 2\n  b: 3\n", 4, 3, "duplicate-key"),
        ("a: !!python/object/apply:os.system ['true']\n", 1, 4, "unsafe-tag"),
        ("a: !!python/name:os.system\n", 1, 4, "unsafe-tag"),
        ("a: !custom x\n", 1, 4, "unsafe-tag"),
        ("a: !!str 5\n", 1, 4, "unsafe-tag"),
        ("a: !!binary aGVsbG8=\n", 1, 4, "unsafe-tag"),
        ("a: !!set {x}\n", 1, 4, "unsafe-tag"),
        ("b: {x: 1}\na:\n  <<: {x: 1}\n", 3, 3, "merge-key"),
        ("a: &x [*x]\n", 1, 4, "alias"),
        ("a: [1, 2\n", 1, 4, "yaml-syntax"),
        ("a: b: c\n", 1, 5, "yaml-syntax"),
        ("a:\n\t- b\n", 2, 1, "yaml-syntax"),
        ("a: 'x\n", 1, 4, "yaml-syntax"),
        # where the mistake is, not the line after it where PyYAML noticed
        ("t:\n  - id: x\n    priority 3\n    members: []\n", 3, 5, "yaml-syntax"),
        ('t:\n  - id: x\n    name: "US West\n    priority: 3\n', 3, 11, "yaml-syntax"),
        ("t:\n  - id: x\n    when: {country: US\n    priority: 3\n", 3, 11, "yaml-syntax"),
        ("a: *nowhere\n", 1, 4, "yaml-syntax"),
        ("a: 1\n---\nb: 2\n", 2, 1, "yaml-syntax"),
        ("a: \x07\n", 1, 4, "yaml-syntax"),
        ("? [1, 2]\n: x\n", 1, 3, "bad-key"),
        # nesting deeper than MAX_DEPTH (100, the root mapping included) is refused
        # where it goes too deep, not with Python's RecursionError
        ("a: " + "[" * 150 + "]" * 150 + "\n", 1, 103, "too-deep"),
        # (libyaml >= 0.2.5 stops past 1,000 levels itself, with a syntax error)
        ("a: !x " + "[" * 500 + "]" * 500 + "\n", 1, 106, "too-deep"),
        ("a: &x " + "{b: " * 120 + "1" + "}" * 120 + "\nc: *x\n", 1, 403, "too-deep"),
    ],
)
@pytest.mark.parametrize("parser", PARSERS)
def test_problems(text: str, line: int, column: int, code: str, parser: type[Any],
                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yamlread, "Parser", parser)
    doc = load(text, "f.yaml")
    assert [(p.file, p.line, p.column, p.code) for p in doc.problems] == [
        ("f.yaml", line, column, code)
    ]


@pytest.mark.parametrize(("text", "hint"), [
    ("name: Canada: English and French\n", "a value holding ': ' must be quoted"),
    ("a:\n  b: 1\n     c: 2\n", "a value holding ': ' must be quoted"),
    ("- id: x\n  priority:20\n  name: y\n",
     "a key needs ': ' after it, with a space (priority: 20)"),
    ("a:\n\t- b\n", "indent with spaces, not tabs"),
    ("a: @x\n", "quote a value that starts with @ or `"),
    ("a: *team\n", "an alias (*name) must follow its anchor (&name) in the same file"),
    ("a: 'x\n", "a quote is never closed"),
    ("a:\n  - b\n c: 2\n", "this line's indentation matches no key above it"),
    ("reps:\n  - id: ana\n    name: A\n   team: West\n",
     "this line's indentation matches no"),
    ("a: 1\n---\nb: 2\n", "a configuration file holds one document: remove this '---'"),
])
@pytest.mark.parametrize("parser", PARSERS)
def test_syntax_errors_say_what_to_do(text: str, hint: str, parser: type[Any],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yamlread, "Parser", parser)
    [problem] = load(text, "f.yaml").problems
    assert problem.code == "yaml-syntax" and hint in problem.message, problem


def test_refused_tags_never_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    marker = tmp_path / "ran"
    text = (
        f"a: !!python/object/apply:os.system ['touch {marker}']\n"
        f"b: !!python/object/new:subprocess.Popen [['touch', '{marker}']]\n"
        "c: !!python/object/apply:builtins.exec ['open(\"ran\", \"w\")']\n"
    )
    doc = load(text, "f.yaml")
    assert [p.code for p in doc.problems] == ["unsafe-tag"] * 3
    assert doc.data == {"a": None, "b": None, "c": None}
    assert not marker.exists()


def test_first_value_of_a_duplicate_key_wins() -> None:
    doc = load("a: 1\nb: 2\na: 3\n", "f.yaml")
    assert doc.data == {"a": 1, "b": 2}
    assert "first at line 1" in doc.problems[0].message


def test_aliases_stand_for_the_anchored_value() -> None:
    doc = load("team: &t [{rep: ana}]\nother: *t\n", "f.yaml")
    assert doc.problems == []
    assert doc.data == {"team": [{"rep": "ana"}], "other": [{"rep": "ana"}]}


@pytest.mark.parametrize("parser", PARSERS)
def test_an_anchor_skipped_where_it_stands_is_built_at_its_first_alias(
    parser: type[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The repeated key's value is skipped; the first alias builds it, with its problems
    # and its inside positioned where it is written; the next alias shares it.
    monkeypatch.setattr(yamlread, "Parser", parser)
    doc = load("a: 1\na: &x {b: !t 1, c: [*x]}\nd: *x\ne: *x\n", "f.yaml")
    assert doc.data == {"a": 1, "d": {"b": None, "c": [None]}, "e": {"b": None, "c": [None]}}
    assert [(p.line, p.column, p.code) for p in doc.problems] == [
        (2, 1, "duplicate-key"), (2, 11, "unsafe-tag"), (2, 4, "alias")]
    at, key_at = doc.positions.at, doc.positions.key_at
    assert (at(("d",)), key_at(("d",)), at(("d", "b")), key_at(("d", "b"))) == (
        (2, 4), (3, 1), (2, 11), (2, 8))
    assert at(("d", "c", 0)) == (2, 20)  # the cycle has no position of its own
    assert (at(("e", "b")), key_at(("e", "b"))) == ((2, 4), None)  # inside an alias


def test_alias_bombs_are_refused_quickly() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    doc = load("\n".join(lines) + "\n", "bomb.yaml")
    assert [p.code for p in doc.problems] == ["alias"]
    assert str(MAX_EXPANDED) in doc.problems[0].message


def test_syntax_error_message_says_where_the_construct_started() -> None:
    doc = load("x: 1\na: [1, 2\n", "f.yaml")
    assert "flow sequence at 2:4" in doc.problems[0].message


# -- properties ----------------------------------------------------------------

texts = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=12)
leaves = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12), texts)
values = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(texts.filter(lambda k: k != "<<"), inner, max_size=4),
    ),
    max_leaves=20,
)


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, path + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, path + (i,))
    return out


@settings(max_examples=200, deadline=None)
@given(values, st.booleans())
def test_safe_dump_round_trips_with_a_position_for_every_value(
    value: Any, flow: bool
) -> None:
    # PyYAML quotes every string its YAML 1.1 resolver would type, so anything it
    # writes must come back unchanged under our narrower rules.
    text = yaml.safe_dump({"root": value}, default_flow_style=flow, allow_unicode=True)
    doc = load(text, "f.yaml")
    assert doc.problems == []
    assert doc.data == {"root": value}
    for path in _paths(value, ("root",)):
        assert doc.positions.at(path) is not None
        assert doc.positions.key_at(path + ("not there",)) is None


@settings(max_examples=200, deadline=None)
@given(st.from_regex(r"0[0-9]{1,6}", fullmatch=True))
def test_leading_zero_numbers_stay_text(text: str) -> None:
    assert load(f"zip: {text}\n", "f.yaml").data == {"zip": text}


@settings(max_examples=200, deadline=None)
@given(st.integers(-10**18, 10**18))
def test_decimal_integers_are_integers(number: int) -> None:
    assert load(f"n: {number}\n", "f.yaml").data == {"n": number}
