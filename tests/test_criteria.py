"""Criteria (SPEC §3): every operator, facts, configuration errors with positions."""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sfa_rules.config import yamlread
from sfa_rules.config.loader import load_config
from sfa_rules.config.models import Config
from sfa_rules.criteria.facts import _COMPILE_AFTER, Facts
from sfa_rules.criteria.ir import CriteriaContext, check_config, compile
from sfa_rules.criteria.predicates import closure

CASES = Path(__file__).parent / "cases" / "criteria"


class Positions:
    """A stand-in source map: every path is at line 1, column = its depth."""

    def at(self, path: tuple[Any, ...]) -> tuple[str, int, int]:
        return ("test.yaml", 1, len(path))


def read_cases(name: str) -> list[dict[str, Any]]:
    doc = yamlread.load((CASES / name).read_text(), name)
    assert not doc.problems, doc.problems
    cases: list[dict[str, Any]] = doc.data["cases"]
    return cases


def context(settings: dict[str, Any] | None = None, **more: Any) -> CriteriaContext:
    config = Config.model_validate({"settings": settings or {}, **more})
    return CriteriaContext(config, Positions())


def territory_ctx(when: dict[str, Any], settings: dict[str, Any] | None = None) -> CriteriaContext:
    rules = [{"id": "big", "when": {"employees": {"gte": 1000}}}]
    return context(settings, sales_rules=rules, territories=[{"id": "t", "when": when}])


OPERATOR_CASES = read_cases("operators.yaml")


@pytest.mark.parametrize("case", OPERATOR_CASES, ids=[c["name"] for c in OPERATOR_CASES])
def test_operator(case: dict[str, Any]) -> None:
    ctx = territory_ctx(case["when"], case.get("settings"))
    assert ctx.problems == []
    pred = compile(ctx.node(("territories", 0, "when")))
    facts = ctx.facts(case["record"])
    assert pred(facts) is case["match"]
    assert (pred.explain(facts) == []) is case["match"]
    if "warnings" in case:
        assert facts.warnings == case["warnings"]


ERROR_CASES = read_cases("errors.yaml")


@pytest.mark.parametrize("case", ERROR_CASES, ids=[c["name"] for c in ERROR_CASES])
def test_config_error_positions(case: dict[str, Any], tmp_path: Path) -> None:
    for name, text in case["files"].items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    config, sourcemap, load_problems = load_config(tmp_path)
    assert load_problems == []
    problems = sorted(check_config(config, sourcemap))
    assert [[p.code, p.file, p.line, p.column] for p in problems] == case["problems"]
    assert all(p.severity == "error" for p in problems)
    if "message" in case:
        assert problems[0].message == case["message"]


def test_warning_is_the_same_whatever_runs() -> None:
    """One warning per bad field, built with the facts: no criteria need to run."""
    ctx = territory_ctx({"employees": {"gte": 10}, "any": [{"employees": {"lt": 5}}]})
    facts = ctx.facts({"employees": "n/a", "revenue": "n/a"})
    assert facts.warnings == ["employees: 'n/a' is not a number"]  # revenue: not compared


def test_a_repeated_value_is_parsed_once_and_warns_every_time() -> None:
    """Typed values are cached per field; each row still gets its own facts and warning."""
    ctx = territory_ctx({"employees": {"gte": 10}, "created": {"gte": "2026-01-01"}})
    for _ in range(2):
        bad = ctx.facts({"employees": " n/a ", "created": "soon"})
        assert bad.warnings == [
            "employees: 'n/a' is not a number", "created: 'soon' is not a date (YYYY-MM-DD)"
        ]
        assert bad.text == {"employees": "n/a", "created": "soon"} and bad.num == {}
        good = ctx.facts({"employees": "12", "created": "2026-02-03T10:00"})
        assert good.warnings == [] and good.num == {"employees": 12.0}
        assert good.date == {"created": "2026-02-03"}
        assert good.raw("created") == "2026-02-03T10:00"
        assert ctx.facts({"employees": "  "}).text == {}  # blank is absent, cached or not


def test_only_used_fields_are_kept_and_key_cache_follows_header() -> None:
    ctx = territory_ctx({"country": "US"}, {"fields": {"country": ["Billing Country"]}})
    first = ctx.facts({"Billing Country": "US", "Notes": "call back"})
    second = ctx.facts({"Billing Country": "CA", "Notes": "x"})
    assert first.text == {"country": "us"} and second.text == {"country": "ca"}


def test_kept_values_are_unfolded() -> None:
    ctx = territory_ctx({"country": "US"})
    facts = ctx.facts({" Owner ": " Ana.Gomez ", "country": "US"})
    assert facts.raw("owner") == "Ana.Gomez"
    assert facts.raw("created") is None


def test_explain_lists_failing_tests() -> None:
    ctx = territory_ctx({"country": "US", "state": ["CA", "OR"], "employees": {"gte": 500},
                         "not": {"industry": "Government"}})
    pred = compile(ctx.node(("territories", 0, "when")))
    facts = ctx.facts({"country": "US", "state": "NV", "employees": "n/a",
                       "industry": "Government"})
    assert pred.explain(facts) == [
        {"field": "state", "op": "in", "expected": ["CA", "OR"], "actual": "NV"},
        {"field": "employees", "op": "gte", "expected": 500, "actual": "n/a"},
        {"field": "industry", "op": "not", "expected": {"industry": {"eq": "Government"}},
         "actual": {"industry": "Government"}},
    ]


# SPEC §20: a trace shows the values as the record and the rule file wrote them
# (not folded), through aliases and nested objects.
WRITTEN_CASES = [
    ("folded-text", {"country": ["CO", "PE", "EC"]}, {"country": " AR "},
     {"field": "country", "op": "in", "expected": ["CO", "PE", "EC"], "actual": "AR"}),
    ("alias", {"country": "US"}, {"Billing Country": "Mexico"},
     {"field": "country", "op": "eq", "expected": "US", "actual": "Mexico"}),
    ("nested", {"address.country": {"ne": "Ca"}}, {"address": {"Country": "CA"}},
     {"field": "address.country", "op": "ne", "expected": "Ca", "actual": "CA"}),
    ("number-as-written", {"employees": {"between": [10, 50]}}, {"employees": 7},
     {"field": "employees", "op": "between", "expected": [10, 50], "actual": 7}),
    ("zero", {"employees": {"gt": 0}}, {"employees": 0},
     {"field": "employees", "op": "gt", "expected": 0, "actual": 0}),
    ("text-number", {"employees": {"gte": 1000}}, {"employees": " 420 "},
     {"field": "employees", "op": "gte", "expected": 1000, "actual": "420"}),
    ("boolean", {"vip": "yes"}, {"vip": False},
     {"field": "vip", "op": "eq", "expected": "yes", "actual": False}),
    ("date", {"created": {"gte": "2026-01-01"}}, {"created": "2025-12-31"},
     {"field": "created", "op": "gte", "expected": "2026-01-01", "actual": "2025-12-31"}),
    ("missing", {"zip": {"prefix": "94"}}, {"country": "US"},
     {"field": "zip", "op": "prefix", "expected": ["94"], "actual": None}),
    ("regex", {"email": {"regex": "@Acme\\."}}, {"email": "X@beta.example"},
     {"field": "email", "op": "regex", "expected": "@Acme\\.", "actual": "X@beta.example"}),
]


@pytest.mark.parametrize("when, record, failure", [c[1:] for c in WRITTEN_CASES],
                         ids=[c[0] for c in WRITTEN_CASES])
def test_explain_shows_values_as_written(when: dict[str, Any], record: dict[str, Any],
                                         failure: dict[str, Any]) -> None:
    ctx = territory_ctx(when, {"fields": {"country": ["Billing Country"]}})
    pred = compile(ctx.node(("territories", 0, "when")))
    assert pred.explain(ctx.facts(record), ctx.schema) == [failure]


def test_named_rule_parsed_once_and_shared() -> None:
    ctx = context(
        sales_rules=[{"id": "r", "when": {"x": {"bad-op": 1}}}],
        territories=[{"id": "a", "rules": ["r"]}, {"id": "b", "when": {"rule": "r"}}],
    )
    assert [p.code for p in ctx.problems] == ["unknown-operator"]


def test_case_sensitive_values_but_not_field_names() -> None:
    ctx = territory_ctx({"Country": "US"}, {"case_sensitive": True})
    pred = compile(ctx.node(("territories", 0, "when")))
    assert pred(ctx.facts({"COUNTRY": "US"}))
    assert not pred(ctx.facts({"country": "us"}))


# -- properties ---------------------------------------------------------------

WORDS = st.sampled_from(["us", "US", " Us ", "ca", "", "  ", "01234", "94107", "n/a", "12", "3.5"])


@given(value=st.one_of(WORDS, st.integers(-5, 99_999), st.none()))
def test_missing_or_empty_fails_all_but_negations(value: Any) -> None:
    """Each operator on an absent/empty field: only exists:false, ne and not_in hold."""
    blocks = {
        "eq": {"f": "x"}, "in": {"f": ["x"]}, "prefix": {"f": {"prefix": "x"}},
        "between": {"f": {"between": [1, 2]}}, "gt": {"f": {"gt": 0}},
        "regex": {"f": {"regex": "."}}, "exists": {"f": {"exists": True}},
        "not-exists": {"f": {"exists": False}}, "ne": {"f": {"ne": "x"}},
        "not_in": {"f": {"not_in": ["x"]}},
    }
    ctx = context(territories=[{"id": k, "when": v} for k, v in blocks.items()])
    record = {"f": value}
    empty = value is None or (isinstance(value, str) and not value.strip())
    facts = ctx.facts(record)
    for i, name in enumerate(blocks):
        held = compile(ctx.node(("territories", i, "when")))(facts)
        if empty:
            assert held is (name in ("not-exists", "ne", "not_in")), name


@given(n=st.one_of(st.integers(-10**6, 10**6), st.floats(-1e6, 1e6, allow_nan=False)),
       low=st.integers(-1000, 1000), width=st.integers(0, 1000))
def test_numeric_between_agrees_with_python(n: float, low: int, width: int) -> None:
    ctx = territory_ctx({"v": {"between": [low, low + width]}})
    pred = compile(ctx.node(("territories", 0, "when")))
    for value in (n, str(n), f"  {n} "):
        facts = Facts({"v": value}, ctx.schema)
        assert pred(facts) is (low <= n <= low + width)
        assert facts.warnings == []


# -- generated predicates agree with the closure reference ---------------------------

FIELDS = st.sampled_from(["country", "zip", "employees", "close", "email"])
SCALARS = st.one_of(st.sampled_from(["US", "no", "94107", "01234", "2026-06-30", "a@b.c", ""]),
                    st.integers(-5, 99_999), st.floats(-10, 10, allow_nan=False))


def _operator_value() -> st.SearchStrategy[Any]:
    return st.one_of(  # no blank value: a criterion on one is a configuration error
        SCALARS.filter(lambda v: v != ""),
        st.lists(SCALARS.filter(lambda v: v != ""), min_size=1, max_size=3),
        st.builds(lambda op, v: {op: v}, st.sampled_from(["ne", "gt", "gte", "lt", "lte"]),
                  SCALARS.filter(lambda v: v != "")),
        st.builds(lambda v: {"not_in": v}, st.lists(st.sampled_from(["us", "ca"]), min_size=1)),
        st.builds(lambda v: {"prefix": v}, st.lists(st.sampled_from(["9", "94", "0", "a"]), min_size=1)),
        st.builds(lambda v: {"exists": v}, st.booleans()),
        st.builds(lambda v: {"regex": v}, st.sampled_from(["^9", "@b\\.", "s$", "[0-9]{3}"])),
        st.builds(lambda a, b: {"between": sorted([a, b])}, st.integers(0, 5000), st.integers(0, 5000)),
        st.builds(lambda a, b: {"between": sorted([a, b])},
                  st.sampled_from(["2026-01-01", "2026-06-30", "2027-01-01"]),
                  st.sampled_from(["2026-01-01", "2026-06-30", "2027-01-01"])),
    )


criteria_blocks = st.recursive(
    st.dictionaries(FIELDS, _operator_value(), min_size=1, max_size=3),
    lambda inner: st.one_of(
        st.builds(lambda xs: {"any": xs}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda xs: {"all": xs}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda x: {"not": x}, inner),
    ),
    max_leaves=6,
)
record_values = st.one_of(SCALARS, st.sampled_from(["n/a", " US ", "94", "2026-13-01"]), st.none())


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(block=criteria_blocks,
       records=st.lists(st.dictionaries(FIELDS, record_values, max_size=5), min_size=1, max_size=5),
       case_sensitive=st.booleans())
def test_generated_predicate_equals_closures(block: dict[str, Any], records: list[dict[str, Any]],
                                              case_sensitive: bool) -> None:
    ctx = territory_ctx(block, {"case_sensitive": case_sensitive})
    assert ctx.problems == []
    node = ctx.node(("territories", 0, "when"))
    generated, reference = compile(node), closure(node)
    for record in records:
        facts = ctx.facts(record)
        assert generated(facts) is reference(facts)
        assert (generated.explain(facts) == []) is reference(facts)


_NAMES = st.sampled_from(["Country", " country ", "Billing Country", "zip", "Zip", "employees",
                          "created", " Owner", "address", "notes", "Amount", "id"])
_LEAVES = st.one_of(st.none(), st.booleans(), st.integers(-5, 99_999), st.floats(allow_nan=True),
                    st.text(max_size=5), st.sampled_from(["", " ", "12", "1e3", "nan", " US ",
                                                          "2026-01-02", "2026-13-01", "NO"]))
_RECORDS = st.dictionaries(
    _NAMES, st.recursive(_LEAVES, lambda inner: st.dictionaries(_NAMES, inner, max_size=4),
                         max_leaves=8),
    max_size=8,
)


@pytest.mark.slow
@settings(max_examples=400, deadline=None)
@given(records=st.lists(_RECORDS, min_size=1, max_size=4), case_sensitive=st.booleans())
def test_facts_compiled_per_shape_equal_the_general_way(records: list[dict[str, Any]],
                                                         case_sensitive: bool) -> None:
    """A plain dict is read by a function compiled for its keys; any other mapping by
    the general loop. Both give the same facts, warnings and order, row after row."""
    ctx = territory_ctx(
        {"country": "US", "zip": {"between": [1, 5]}, "amount": {"gt": 0},
         "address.country": "US", "address.zip": {"prefix": ["9"]}, "notes": {"exists": True}},
        {"case_sensitive": case_sensitive,
         "fields": {"country": ["Billing Country"], "address.country": ["address.land"]}},
    )
    assert ctx.problems == []
    for _ in range(_COMPILE_AFTER + 1):  # a shape is compiled once it repeats
        for record in records:
            compiled, general = ctx.facts(record), ctx.facts(MappingProxyType(record))
            for part in ("text", "num", "date", "original", "warnings"):
                got, want = getattr(compiled, part), getattr(general, part)
                assert got == want and list(got) == list(want), part
    assert len(ctx.schema._fillers) == len({tuple(r) for r in records})


def test_only_shapes_that_repeat_are_compiled() -> None:
    """A feed whose every row has other keys must not pay a compile per row."""
    ctx = territory_ctx({"country": "US"})
    for i in range(200):
        assert ctx.facts({"country": "US", f"custom_{i}": "x"}).text == {"country": "us"}
    assert ctx.schema._fillers == {}
    for _ in range(_COMPILE_AFTER):
        assert ctx.facts({"country": "CA", "custom": "x"}).text == {"country": "ca"}
    assert list(ctx.schema._fillers) == [("country", "custom")]
