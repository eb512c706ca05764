"""The territory index (SPEC §4, §13): try order, matching rules, index == plain scan."""

from __future__ import annotations

from functools import partial
from typing import Any
from unittest.mock import patch

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sfa_rules.config.models import Config
from sfa_rules.config.order import try_order
from sfa_rules.criteria.ir import CriteriaContext
from sfa_rules.routing import index as bitsets
from sfa_rules.routing.territories import TerritoryIndex


class Positions:
    def at(self, path: tuple[Any, ...]) -> tuple[str, int, int]:
        return ("test.yaml", 1, len(path))


def build(territories: list[dict[str, Any]], rules: list[dict[str, Any]] | None = None,
          case_sensitive: bool = False) -> tuple[CriteriaContext, TerritoryIndex]:
    config = Config.model_validate({"territories": territories, "sales_rules": rules or [],
                                    "settings": {"case_sensitive": case_sensitive}})
    ctx = CriteriaContext(config, Positions())
    assert ctx.problems == []
    return ctx, TerritoryIndex(config, ctx)


def matches(territories: list[dict[str, Any]], record: dict[str, Any],
            day: str = "2026-06-01", rules: list[dict[str, Any]] | None = None) -> list[str]:
    ctx, index = build(territories, rules)
    facts = ctx.facts(record)
    found = [t.id for t in index.candidates(facts, day)]
    assert found == [t.id for t in index.scan(facts, day)]
    return found


def test_priority_then_file_order_then_default_last() -> None:
    territories = [
        {"id": "catch-all", "default": True},
        {"id": "late", "priority": 50},
        {"id": "first-at-10", "priority": 10},
        {"id": "second-at-10", "priority": 10},
        {"id": "no-priority"},  # 100
    ]
    assert matches(territories, {}) == [
        "first-at-10", "second-at-10", "late", "no-priority", "catch-all"]


def test_child_at_parents_priority_goes_first() -> None:
    territories = [
        {"id": "other", "priority": 10},
        {"id": "us", "priority": 10, "when": {"country": "US"}},
        {"id": "ca-west", "priority": 10, "parent": "us", "when": {"state": "CA"}},
        {"id": "sf", "priority": 10, "parent": "ca-west", "when": {"zip": {"prefix": "941"}}},
    ]
    config = Config.model_validate({"territories": territories})
    assert [territories[i]["id"] for i in try_order(config.territories)] == [
        "other", "sf", "ca-west", "us"]
    assert matches(territories, {"country": "US", "state": "CA", "zip": "94107"}) == [
        "other", "sf", "ca-west", "us"]


def test_child_requires_parent_criteria_recursively() -> None:
    territories = [
        {"id": "us", "when": {"country": "US"}},
        {"id": "west", "parent": "us", "when": {"state": ["CA", "OR"]}},
        {"id": "bay", "parent": "west", "priority": 5, "when": {"zip": {"prefix": "94"}}},
    ]
    assert matches(territories, {"country": "CA", "state": "CA", "zip": "94107"}) == []
    assert matches(territories, {"country": "US", "state": "NV", "zip": "94107"}) == ["us"]
    assert matches(territories, {"country": "US", "state": "CA", "zip": "94107"}) == [
        "bay", "west", "us"]


RULES = [{"id": "us", "when": {"country": "US"}}, {"id": "big", "when": {"employees": {"gte": 1000}}}]


@pytest.mark.parametrize(("match", "record", "expected"), [
    ("all", {"country": "US", "employees": 5000, "industry": "Retail"}, ["t"]),
    ("all", {"country": "US", "employees": 5000, "industry": "Banking"}, []),
    ("all", {"country": "US", "employees": 10, "industry": "Retail"}, []),
    ("any", {"country": "US"}, ["t"]),
    ("any", {"employees": 5000}, ["t"]),
    ("any", {"industry": "Retail"}, ["t"]),
    ("any", {"industry": "Banking"}, []),
])
def test_match_all_or_any_over_rules_and_when(match: str, record: dict[str, Any],
                                               expected: list[str]) -> None:
    territories = [{"id": "t", "match": match, "rules": ["us", "big"],
                    "when": {"industry": "Retail"}}]
    assert matches(territories, record, rules=RULES) == expected


@pytest.mark.parametrize(("day", "expected"), [
    ("2026-12-31", ["old"]), ("2027-01-01", ["new"]), ("2027-06-30", ["new"]),
    ("2027-07-01", []),
])
def test_effective_window_by_record_date(day: str, expected: list[str]) -> None:
    territories = [
        {"id": "new", "effective": {"from": "2027-01-01", "to": "2027-06-30"}},
        {"id": "old", "effective": {"to": "2026-12-31"}},
    ]
    assert matches(territories, {}, day) == expected


def test_inactive_never_matches_and_no_criteria_matches_all() -> None:
    territories = [
        {"id": "off", "active": False, "when": {"country": "US"}},
        {"id": "off-everything", "active": False},
        {"id": "everything"},
    ]
    assert matches(territories, {"country": "US"}) == ["everything"]


def test_first_match_and_default() -> None:
    ctx, index = build([{"id": "us", "when": {"country": "US"}}, {"id": "pool", "default": True}])
    assert index.first_match(ctx.facts({"country": "us"}), "2026-01-01").id == "us"  # type: ignore[union-attr]
    assert index.first_match(ctx.facts({"country": "mx"}), "2026-01-01").id == "pool"  # type: ignore[union-attr]
    _, bare = build([{"id": "us", "when": {"country": "US"}}])
    assert bare.first_match(ctx.facts({"country": "mx"}), "2026-01-01") is None


def test_candidates_are_lazy() -> None:
    ctx, index = build([{"id": f"t{i}"} for i in range(3)])
    found = index.candidates(ctx.facts({}), "2026-01-01")
    assert next(found).id == "t0"
    assert next(found).id == "t1"


def test_first_match_goes_on_past_failing_candidates() -> None:
    """300 candidates the regex turns down, before and after the one that matches."""
    failing = [{"id": f"acme{i}", "priority": 10,
                "when": {"state": "CA", "company": {"regex": "acme"}}} for i in range(300)]
    territories = [*failing[:100], {"id": "zip-9", "priority": 10, "when": {"zip": {"prefix": "9"}}},
                   *failing[100:], {"id": "zeta", "when": {"state": "CA", "company": {"regex": "zeta"}}}]
    ctx, index = build(territories)
    for record, expected in [({"state": "CA", "company": "zeta", "zip": "94107"}, "zip-9"),
                             ({"state": "CA", "company": "zeta"}, "zeta"),
                             ({"state": "CA", "company": "acme"}, "acme0"),
                             ({"state": "CA", "company": "ibm"}, None)]:
        facts = ctx.facts(record)
        first = index.first_match(facts, "2026-06-01")
        assert (first.id if first else None) == expected
        assert index.scan_first(facts, "2026-06-01") == first


def test_keys_few_territories_hold_are_listed_within_the_budget() -> None:
    """Sets are as wide as the plan: past the budget, keys need more territories to be
    one, and the rest are listed ranks (the answers stay the same)."""
    territories = [{"id": f"t{i}", "when": {"state": STATES[i % 5], "zip": f"{i:05d}"}}
                   for i in range(400)]
    ctx, index = build(territories)
    width = 400 // 8 + 32  # bytes per set
    counts = [80] * 5 + [1] * 400
    assert bitsets._threshold(counts, 400, 10**6) == bitsets.SPARSE
    assert bitsets._threshold(counts, 400, 4 * width) == 128  # 1, 2, 4, .. 128 > 80
    with patch.object(bitsets, "BUDGET", 4 * width):
        _, small = build(territories)
    for record in [{"state": "wa", "zip": "00042"}, {"state": "ca", "zip": "00042"},
                   {"state": "ca"}, {"zip": "00399"}, {"state": "ca", "zip": "00005"}]:
        facts = ctx.facts(record)
        found = [i.first_match(facts) for i in (small, index)]
        expected = index.scan_first(facts)
        assert [t.id if t else None for t in found] == [expected.id if expected else None] * 2


RANGED = [  # each bound, strict or not, on a cut of the number line
    {"id": "gt-100", "priority": 1, "when": {"employees": {"gt": 100, "lte": 200}}},
    {"id": "band", "priority": 2, "when": {"employees": {"gte": 50, "lt": 100}}},
    {"id": "between", "priority": 3, "when": {"employees": {"between": [100, 100]}}},
    {"id": "tightest", "priority": 4,
     "when": {"all": [{"employees": {"gte": 500}}, {"employees": {"gt": 500}},
                      {"employees": {"lt": 900}}, {"employees": {"lte": 1000}}]}},
    {"id": "empty", "priority": 5, "when": {"employees": {"gt": 5, "lt": 5}}},
    {"id": "pool", "default": True},
]


@pytest.mark.parametrize(("employees", "expected"), [
    (49, "pool"), (50, "band"), (99.5, "band"), (100, "between"), (100.0001, "gt-100"),
    (200, "gt-100"), (200.5, "pool"), (500, "pool"), (501, "tightest"), (899, "tightest"),
    (900, "pool"), (5, "pool"), ("n/a", "pool"), (None, "pool"),
])
@pytest.mark.parametrize("cells", [None, 2])
def test_numeric_bounds_strict_or_not(employees: Any, expected: str, cells: int | None) -> None:
    """Cells cut at every bound prove a range alone (no predicate runs); thinned
    ones (``cells``: fewer than the bounds) only narrow the candidates."""
    with patch.multiple(bitsets, MIN_CELLS=cells or bitsets.MIN_CELLS,
                        MAX_CELLS=cells or bitsets.MAX_CELLS):
        ctx, index = build(RANGED)
    facts = ctx.facts({} if employees is None else {"employees": employees})
    first = index.first_match(facts, "2026-06-01")
    assert first is not None and first.id == expected
    assert index.scan_first(facts, "2026-06-01") == first
    if cells is None:  # no territory's predicate ran: each one's first call is still pending
        assert all(isinstance(test, partial) for test in index._tests)


def test_territory_tests_agree_before_and_after_they_are_generated() -> None:
    """A territory the index cannot prove is tested by closures, then by its generated
    function: the same answers either side of the switch."""
    ctx, index = build([{"id": "acme", "when": {"company": {"regex": "^ac.e"}}},
                        {"id": "pool", "default": True}])
    companies = ["acme", "acne", "ibm", "ACRE", ""] * 30  # 150 tests: past the switch
    found = [t.id for c in companies if (t := index.first_match(ctx.facts({"company": c})))]
    assert found == ["acme", "acme", "pool", "acme", "pool"] * 30


# -- property: the index agrees with the plain scan ----------------------------

COUNTRIES = ["us", "ca", "mx", "NO"]
STATES = ["ca", "or", "wa", "ny", "tx"]
ZIPS = ["01234", "02139", "94107", "95014", "96199", "9", "10001", "941"]
INDUSTRIES = ["retail", "banking", "government"]
COMPANIES = ["Acme1 Inc", "acme12", "ACME", "acne", "Sacme", "\u017facme", "\u0131bm", "IBM",
             "a.b", "a|b", "K-9", "zeta"]
# Anchored literals (indexed by prefix) and patterns that must not be: unanchored,
# alternation, optional last letter, classes, letters that fold oddly (s, i).
PATTERNS = ["^acme1", "^ACME", "^acme1?", "^ac.e", "acme", "^a|^z", "^a\\.b", "^a\\|b",
            "^[ai]", "^s", "^i", "^ibm", "^k-", "^zeta$", "^(acme|zeta)", "^acme\\d"]

leaf = st.one_of(
    st.builds(lambda c: {"country": c}, st.sampled_from(COUNTRIES)),
    st.builds(lambda s: {"country": s}, st.lists(st.sampled_from(COUNTRIES), min_size=1, max_size=3)),
    st.builds(lambda s: {"state": s}, st.lists(st.sampled_from(STATES), min_size=1, max_size=3)),
    st.builds(lambda p: {"zip": {"prefix": p}},
              st.lists(st.sampled_from(["0", "01", "9", "94", "941", "95", "1"]), min_size=1, max_size=3)),
    st.builds(lambda a, b: {"zip": {"between": sorted([a, b])}},
              st.sampled_from(ZIPS), st.sampled_from(ZIPS)),
    st.builds(lambda i: {"industry": {"not_in": [i]}}, st.sampled_from(INDUSTRIES)),
    st.builds(lambda i: {"industry": i}, st.sampled_from(INDUSTRIES)),
    st.builds(lambda lo, w: {"employees": {"gte": lo, "lt": lo + w}},
              st.integers(0, 2000), st.integers(1, 3000)),
    st.builds(lambda p: {"company": {"regex": p}}, st.sampled_from(PATTERNS)),
    st.builds(lambda s: {"lead_source": {"ne": s}}, st.sampled_from(["partner", "web"])),
)


def _block(parts: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    if kind == "any":
        return {"any": parts}
    if kind == "not":
        return {"not": parts[0], **{k: v for p in parts[1:] for k, v in p.items()}}
    merged: dict[str, Any] = {}
    for p in parts:
        merged.update(p)
    return merged


flat = st.builds(_block, st.lists(leaf, min_size=1, max_size=3),
                 st.sampled_from(["all", "all", "any", "not"]))
# Leaves whose keys are exactly what they require: an `any` of them (found through
# any of its keys) needs no test, nor does a guard its table sets it apart by.
keyed = st.one_of(
    st.builds(lambda c: {"country": c}, st.lists(st.sampled_from(COUNTRIES), min_size=1, max_size=2)),
    st.builds(lambda s: {"state": s}, st.lists(st.sampled_from(STATES), min_size=1, max_size=2)),
    st.builds(lambda p: {"zip": {"prefix": p}}, st.lists(st.sampled_from(["9", "94", "01"]), min_size=1)),
    st.builds(lambda i: {"industry": i}, st.sampled_from(INDUSTRIES)),
)
# Disjunctions of blocks over different fields (filed under each alternative's keys),
# nested one level, and conjoined with more criteria.
blocks = st.one_of(
    flat,
    st.builds(lambda alts, rest: {"any": alts, **rest},
              st.lists(flat, min_size=1, max_size=3), st.fixed_dictionaries({}, optional={
                  "lead_source": st.just({"ne": "partner"}),
                  "country": st.sampled_from(COUNTRIES)})),
    st.builds(lambda a, b: {"any": [{"any": a}, b]},
              st.lists(leaf, min_size=1, max_size=2), flat),
    st.builds(lambda alts: {"any": alts}, st.lists(keyed, min_size=1, max_size=3)),
)


# Guards and numeric ranges many territories share (the index sets guarded ones apart
# and files unkeyed ones under cells of their range once enough share a table).
# (A shared requirement, industry: government, is no guard.)
SHARED = [{"lead_source": {"ne": "partner"}}, {"industry": {"not_in": ["banking", "retail"]}},
          {"not": {"lead_source": "web"}}, {"industry": "government"}]
BOUNDS = [0, 100, 150, 999, 1000, 2000, 5000]
bound = st.one_of(st.sampled_from(BOUNDS), st.integers(0, 6000))
RANGES = st.one_of(
    st.builds(lambda a, b: {"employees": {"between": sorted([a, b])}}, bound, bound),
    st.builds(lambda lo: {"employees": {"gt": lo}}, bound),
    st.builds(lambda hi: {"employees": {"lte": hi}}, bound),
    st.builds(lambda lo, hi: {"employees": {"gte": lo, "lt": hi}}, bound, bound),
    st.builds(lambda lo, hi: {"employees": {"gt": lo, "lte": hi}}, bound, bound),
    st.builds(lambda a, b: {"all": [{"employees": {"gte": a}}, {"employees": {"gt": b}}]},
              bound, bound),
)


@st.composite
def configurations(draw: st.DrawFn, many: bool = False,
                   ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], bool]:
    rules = [{"id": f"r{i}", "when": draw(blocks)} for i in range(draw(st.integers(0, 3)))]
    territories: list[dict[str, Any]] = []
    for i in range(draw(st.integers(16, 48) if many else st.integers(1, 12))):
        t: dict[str, Any] = {"id": f"t{i}", "priority": draw(st.sampled_from([5, 10, 10, 100]))}
        if draw(st.booleans()):
            t["when"] = draw(blocks)
        if many and draw(st.integers(0, 3)) > 0:
            t["when"] = {**t.get("when", {}), **draw(st.sampled_from(SHARED))}
        if many and draw(st.booleans()):
            t["when"] = {**t.get("when", {}), **draw(RANGES)}
        if rules and draw(st.booleans()):
            t["rules"] = draw(st.lists(st.sampled_from([r["id"] for r in rules]),
                                       min_size=1, max_size=2, unique=True))
            t["match"] = draw(st.sampled_from(["all", "any"]))
        if i and draw(st.integers(0, 3)) == 0:
            t["parent"] = f"t{draw(st.integers(0, i - 1))}"
        t["active"] = draw(st.integers(0, 5)) > 0
        if draw(st.integers(0, 4)) == 0:
            t["effective"] = {"from": "2026-03-01"}
        territories.append(t)
    if draw(st.booleans()):
        territories.append({"id": "pool", "default": True})
    return territories, rules, draw(st.integers(0, 4)) == 0


records = st.fixed_dictionaries({}, optional={
    "country": st.sampled_from([*COUNTRIES, "US ", ""]),
    "state": st.sampled_from(STATES),
    "zip": st.sampled_from([*ZIPS, "", "9410", "961990"]),
    "industry": st.sampled_from(INDUSTRIES),
    "employees": st.one_of(st.integers(0, 6000), st.sampled_from([*BOUNDS, "n/a", "150", 1000.5])),
    "company": st.sampled_from(COMPANIES),
    "lead_source": st.sampled_from(["Partner", "web", ""]),
})


@pytest.mark.parametrize("case_sensitive", [False, True])
def test_regex_prefix_index_equals_plain_scan(case_sensitive: bool) -> None:
    territories = [{"id": f"p{i}", "when": {"company": {"regex": p}}}
                   for i, p in enumerate(PATTERNS)]
    territories.append({"id": "either", "when": {"any": [{"company": {"regex": "^zeta"}},
                                                         {"country": "us"}]}})
    ctx, index = build(territories, case_sensitive=case_sensitive)
    for company in COMPANIES:
        for row in ({"company": company}, {"company": company, "country": "us"}):
            facts = ctx.facts(row)
            scanned = [t.id for t in index.scan(facts, "2026-06-01")]
            assert [t.id for t in index.candidates(facts, "2026-06-01")] == scanned, company
            first = index.first_match(facts, "2026-06-01")
            assert (first.id if first else None) == (scanned[0] if scanned else None)


@pytest.mark.parametrize(("record", "expected"), [
    ({"country": "MX", "state": "CA"}, ["west-or-mx"]),
    ({"country": "US", "state": "CA"}, ["west-or-mx", "us"]),
    ({"country": "MX", "state": "TX", "lead_source": "Partner"}, []),
    ({"country": "BR", "zip": "941"}, ["zip-or-ca"]),
    ({"country": "CA"}, ["zip-or-ca"]),
])
def test_disjunction_across_fields_found_through_either(
        record: dict[str, Any], expected: list[str]) -> None:
    territories = [
        {"id": "west-or-mx", "priority": 5,
         "when": {"any": [{"state": ["CA", "OR"]}, {"country": "MX"}],
                  "lead_source": {"ne": "Partner"}}},
        {"id": "zip-or-ca", "priority": 5,
         "when": {"any": [{"zip": {"prefix": "94"}}, {"country": "CA"}]}},
        {"id": "us", "when": {"country": "US"}},
    ]
    assert matches(territories, record) == expected


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(configurations(), st.lists(records, min_size=1, max_size=8),
       st.sampled_from(["2026-01-01", "2026-06-01"]), st.sampled_from([1, 3, 8, 10**9]),
       st.sampled_from([2, 5, 1 << 16]))
def test_index_equals_plain_scan(
    configuration: tuple[list[dict[str, Any]], list[dict[str, Any]], bool],
    rows: list[dict[str, Any]], day: str, sparse: int, cells: int,
) -> None:
    """Whatever keys are sets or listed ranks (``sparse``: 1, all sets; 10**9, none),
    and however finely the number line is cut (``cells``)."""
    territories, rules, case_sensitive = configuration
    with patch.object(bitsets, "SPARSE", sparse), patch.multiple(
            bitsets, MIN_CELLS=min(cells, bitsets.MIN_CELLS), MAX_CELLS=cells):
        ctx, index = build(territories, rules, case_sensitive)
    for row in rows:
        facts = ctx.facts(row)
        scanned = [t.id for t in index.scan(facts, day)]
        assert [t.id for t in index.candidates(facts, day)] == scanned
        first = index.first_match(facts, day)
        assert (first.id if first else None) == (scanned[0] if scanned else None)
        if first is not None:  # the later candidates, as the assigner asks for them
            assert [c.id for c in index.candidates(facts, day, after=first.rank)] == scanned[1:]


@pytest.mark.slow
@settings(max_examples=150, deadline=None)
@given(configurations(many=True), st.lists(records, min_size=1, max_size=12),
       st.sampled_from(["2026-01-01", "2026-06-01"]), st.sampled_from([1, 3, 8, 10**9]),
       st.sampled_from([2, 5, 1 << 16]))
def test_index_equals_plain_scan_with_shared_guards_and_ranges(
    configuration: tuple[list[dict[str, Any]], list[dict[str, Any]], bool],
    rows: list[dict[str, Any]], day: str, sparse: int, cells: int,
) -> None:
    test_index_equals_plain_scan.hypothesis.inner_test(  # type: ignore[attr-defined]
        configuration, rows, day, sparse, cells)
