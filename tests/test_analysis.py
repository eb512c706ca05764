"""Static checks (SPEC §15): table cases per check, the shipped rules, exactness."""

from __future__ import annotations

import json
from itertools import product
from pathlib import Path
from typing import Any

import hypothesis
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sfa_rules.analysis import static as analysis
from sfa_rules.analysis.static import Analysis
from sfa_rules.api import validate_config as validate
from sfa_rules.config import yamlread
from sfa_rules.config.models import Config, ConfigFile
from sfa_rules.config.order import try_order
from sfa_rules.criteria.ir import CriteriaContext
from sfa_rules.routing.territories import TerritoryIndex

ROOT = Path(__file__).parent.parent
CASES = Path(__file__).parent / "cases" / "analysis"
ANALYSIS_CODES = {
    "shadowed-territory", "shadowed-override", "ambiguous-territories", "not-analysed",
    "uncovered-values", "unreachable-status", "idle-rep", "territory-without-members",
    "probability-not-monotonic",
}


def read_cases() -> list[tuple[str, list[str], dict[str, Any]]]:
    out = []
    for path in sorted(CASES.glob("*.yaml")):
        doc = yamlread.load(path.read_text(), path.name)
        assert not doc.problems, doc.problems
        for case in doc.data["cases"]:
            out.append((f"{path.stem}:{case['name']}", doc.data["codes"], case))
    return out


def with_reps(config: dict[str, Any]) -> dict[str, Any]:
    """Cases about criteria leave out the reps: every member and owner is one."""
    if "reps" in config:
        return config
    names = {m["rep"] for t in config.get("territories", []) for m in t.get("members", [])}
    names |= {o["assign_to"]["rep"] for o in config.get("assignment", {}).get("overrides", [])
              if "rep" in o["assign_to"]}
    return {**config, "reps": [{"id": n} for n in sorted(names)]}


def path_of(dotted: str) -> tuple[str | int, ...]:
    return tuple(int(p) if p.isdigit() else p for p in dotted.split("."))


CASE_LIST = read_cases()


@pytest.mark.parametrize("name,codes,case", CASE_LIST, ids=[c[0] for c in CASE_LIST])
def test_case(name: str, codes: list[str], case: dict[str, Any], tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    # JSON is YAML: the case's values keep their types, one item per line.
    text = json.dumps(with_reps(case["config"]), indent=2, ensure_ascii=False)
    (tmp_path / "rules" / "config.yaml").write_text(text)
    _, sourcemap, problems = validate(tmp_path)
    assert [p for p in problems if p.severity == "error"] == []
    got = sorted((p.code, p.file, p.line, p.column, p.message) for p in problems if p.code in codes)
    want = []
    for entry in case["expected"]:
        (key, says), = entry.items()
        code, _, where = key.partition(" at ")
        want.append((code, *sourcemap.at(path_of(where)), says))
    want.sort()
    assert [g[:4] for g in got] == [w[:4] for w in want], [g[4] for g in got]
    for g, w in zip(got, want):
        assert w[4] in g[4]
    assert all(p.severity in ("warning", "info") for p in problems if p.code in ANALYSIS_CODES)


def test_shipped_configuration_has_nothing_to_report() -> None:
    _, _, problems = validate(ROOT)
    assert [str(p) for p in problems] == []


def test_packaged_defaults_have_nothing_to_report() -> None:
    folder = ROOT / "sfa_rules" / "defaults"
    if not folder.is_dir():
        pytest.skip("no packaged defaults yet")
    _, _, problems = validate(folder)
    assert [str(p) for p in problems] == []


def test_not_analysed_is_information_only() -> None:
    config = Config.model_validate({
        "reps": [{"id": "ana"}],
        "territories": [{"id": "t", "when": {"email": {"regex": "x"}}, "members": [{"rep": "ana"}]}],
    })
    problems = analysis.check(config, Positions())
    assert [(p.code, p.severity) for p in problems] == [("not-analysed", "info")]


def test_checks_are_an_explicit_tuple_of_functions_and_the_sections_they_read() -> None:
    sections = set(ConfigFile.model_fields)
    assert all(callable(c) and c.__doc__ and reads and reads <= sections
               for c, reads in analysis.CHECKS)


# -- exactness against brute force ------------------------------------------------------


class Positions:
    def at(self, path: tuple[Any, ...]) -> tuple[str, int, int]:
        return ("test.yaml", 1, len(path))


# A universe holding one value of every atom the generated criteria can cut out:
# text field `a` (constants a, ab, b; prefixes a, b; bounds among a, ab, b, c) and
# number field `n` (bounds 1, 2, 5), absent and unparseable included; and record dates
# around the generated effective windows.
A_VALUES = [None, "0", "a", "aa", "ab", "AB", "ac", "b", "ba", "c", "d"]
N_VALUES = [None, "n/a", "0", "1", "1.5", "2", "3", "5", "6"]
DAYS = ["2026-12-31", "2027-01-01", "2027-01-02", "2027-01-03"]
UNIVERSE = [
    ({k: v for k, v in (("a", a), ("n", n)) if v is not None}, day)
    for a, n, day in product(A_VALUES, N_VALUES, DAYS)
]

text_const = st.sampled_from(["a", "ab", "b", "A"])
text_test = st.one_of(
    text_const,
    st.lists(text_const, min_size=1, max_size=3),
    st.builds(lambda v: {"ne": v}, text_const),
    st.builds(lambda v: {"not_in": v}, st.lists(text_const, min_size=1, max_size=2)),
    st.builds(lambda v: {"prefix": v}, st.lists(st.sampled_from(["a", "b"]), min_size=1, max_size=2)),
    st.builds(lambda v: {"between": list(v)}, st.sampled_from([("a", "ab"), ("a", "b"), ("ab", "c")])),
    st.builds(lambda v: {"exists": v}, st.booleans()),
)
number_test = st.one_of(
    st.builds(lambda op, v: {op: v}, st.sampled_from(["gt", "gte", "lt", "lte"]), st.sampled_from([1, 2, 5])),
    st.builds(lambda v: {"between": list(v)}, st.sampled_from([(1, 2), (1, 5), (2, 5)])),
    st.builds(lambda v: {"exists": v}, st.booleans()),
)
regex_test = st.builds(lambda r: {"regex": r}, st.sampled_from(["^a", "b$", "a.", "^(a|b)$"]))


def blocks(text: st.SearchStrategy[Any]) -> tuple[st.SearchStrategy[Any], st.SearchStrategy[Any]]:
    """(leaf, block) strategies over the two fields, with the given text tests."""
    leaf = st.one_of(st.builds(lambda t: {"a": t}, text), st.builds(lambda t: {"n": t}, number_test),
                     st.builds(lambda t, u: {"a": t, "n": u}, text, number_test))
    block = st.recursive(
        leaf,
        lambda inner: st.one_of(
            st.builds(lambda xs: {"any": xs}, st.lists(inner, min_size=1, max_size=3)),
            st.builds(lambda xs: {"all": xs}, st.lists(inner, min_size=1, max_size=2)),
            st.builds(lambda x: {"not": x}, inner),
            st.builds(lambda x: {"rule": "r", **x}, leaf),
        ),
        max_leaves=4,
    )
    return leaf, block


leaf, block = blocks(text_test)
window = st.sampled_from([None, {"from": "2027-01-01"}, {"to": "2027-01-01"},
                          {"from": "2027-01-02", "to": "2027-01-02"}])


@st.composite
def configs(draw: st.DrawFn, leaf: st.SearchStrategy[Any] = leaf,
            block: st.SearchStrategy[Any] = block) -> dict[str, Any]:
    count = draw(st.integers(2, 5))
    territories = []
    for i in range(count):
        t: dict[str, Any] = {"id": f"t{i}", "priority": draw(st.sampled_from([1, 2])),
                             "members": [{"rep": "ana"}]}
        if draw(st.integers(0, 5)):
            t["when"] = draw(block)
        if draw(st.integers(0, 4)) == 0:
            t["rules"], t["match"] = ["r"], draw(st.sampled_from(["all", "any"]))
        if i and draw(st.integers(0, 3)) == 0:
            t["parent"] = f"t{draw(st.integers(0, i - 1))}"
        if draw(st.integers(0, 5)) == 0:
            t["active"] = False
        if (w := draw(window)) is not None:
            t["effective"] = w
        territories.append(t)
    if draw(st.booleans()):
        territories.append({"id": "pool", "default": True, "members": [{"rep": "ana"}]})
    return {
        "sales_rules": [{"id": "r", "when": draw(leaf)}],
        "reps": [{"id": "ana"}],
        "territories": territories,
    }


@pytest.mark.slow
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(configs())
def test_shadowed_and_ambiguous_are_exact(raw: dict[str, Any]) -> None:
    config = Config.model_validate(raw)
    ctx = CriteriaContext(config, Positions())
    assert ctx.problems == []
    found = Analysis(config, Positions(), ctx)
    index = TerritoryIndex(config, ctx)
    order = [t.id for t in index.order]
    assert [config.territories[i].id for i in found.territory_order] == order
    assert found.territory_order == try_order(config.territories)
    # Which territories each record matches, in try order (the default left out).
    matched = [[t.id for t in index.scan(ctx.facts(rec), day) if not t.default]
               for rec, day in UNIVERSE]
    winners = {m[0] for m in matched if m}
    findings = found.territory_findings
    ids = [t.id for t in config.territories]
    shadowed = {ids[i] for i in findings.shadowed}
    for i in found.territory_order:
        t = config.territories[i]
        if not t.active:
            continue
        assert i not in findings.not_analysed  # no regex here: everything is decided
        assert (t.id in shadowed) == (t.id not in winners), t.id
    reported = set()
    for a, b, example in findings.ambiguous:
        record = {("created" if k == "(Date)" else k): v for k, v in example.items()}
        day = record.pop("created", "2027-01-01")
        hits = [t.id for t in index.scan(ctx.facts(record), day) if not t.default]
        assert hits[:1] == [ids[a]] and ids[b] in hits, (example, hits)
        reported.add((ids[a], ids[b]))
    related = {(ids[i], t.parent) for i, t in enumerate(config.territories) if t.parent}
    for m in matched:
        if not m:
            continue
        first = config.territories[ids.index(m[0])]
        for other in m[1:]:
            t = config.territories[ids.index(other)]
            if (t.priority == first.priority and other not in shadowed
                    and not _related(config, first.id, other)):
                assert (m[0], other) in reported, (m, related)


@pytest.mark.slow
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(configs(*blocks(st.one_of(text_test, regex_test))))
def test_claims_stay_sound_next_to_regex(raw: dict[str, Any]) -> None:
    """With undecidable criteria about, what is reported still holds for every record:
    no inexact territory is reported, a shadowed one never wins, examples are real."""
    config = Config.model_validate(raw)
    ctx = CriteriaContext(config, Positions())
    found = Analysis(config, Positions(), ctx)
    index = TerritoryIndex(config, ctx)
    findings = found.territory_findings
    ids = [t.id for t in config.territories]
    winners = set()
    for rec, day in UNIVERSE:
        first = next((t.id for t in index.scan(ctx.facts(rec), day) if not t.default), None)
        winners.add(first)
    assert not set(findings.shadowed) & set(findings.not_analysed)
    stopped = set(findings.stopped)
    assert not stopped & (set(findings.shadowed) | set(findings.residual) | set(findings.not_analysed))
    assert not any(a in stopped or b in stopped for a, b, _ in findings.ambiguous)
    assert not {ids[i] for i in findings.shadowed} & winners
    for a, b, example in findings.ambiguous:
        assert a not in findings.not_analysed and b not in findings.not_analysed
        record = {("created" if k == "(Date)" else k): v for k, v in example.items()}
        days = [record.pop("created")] if "created" in record else DAYS
        assert any(
            [t.id for t in index.scan(ctx.facts(record), d) if not t.default][:1] == [ids[a]]
            and ids[b] in [t.id for t in index.scan(ctx.facts(record), d)]
            for d in days), example


@settings(max_examples=100, deadline=None)
@given(st.lists(block, min_size=2, max_size=5), leaf)
def test_shadowed_overrides_are_exact(whens: list[dict[str, Any]], rule: dict[str, Any]) -> None:
    from sfa_rules.criteria.predicates import compile as compile_node

    config = Config.model_validate({
        "sales_rules": [{"id": "r", "when": rule}],
        "reps": [{"id": "ana"}],
        "assignment": {"overrides": [{"id": f"o{i}", "when": w, "assign_to": {"rep": "ana"}}
                                     for i, w in enumerate(whens)]},
    })
    ctx = CriteriaContext(config, Positions())
    found = Analysis(config, Positions(), ctx).override_findings
    tests = [compile_node(ctx.node(("assignment", "overrides", i, "when"))) for i in range(len(whens))]
    winners = set()
    for record, _ in UNIVERSE[::len(DAYS)]:
        facts = ctx.facts(record)
        winners.add(next((i for i, t in enumerate(tests) if t(facts)), None))
    assert found.not_analysed == {}
    assert set(found.shadowed) == set(range(len(whens))) - winners


def _related(config: Config, a: str, b: str) -> bool:
    parents = {t.id: t.parent for t in config.territories}

    def up(x: str) -> set[str]:
        seen: set[str] = set()
        while (p := parents.get(x)) is not None and p not in seen:
            seen.add(p)
            x = p
        return seen

    return a in up(b) or b in up(a)


# -- atoms agree with the operators, value by value ------------------------------------

ALPHABET = "aAbB 0~!\x01\u00dfI\u0130\u00ff"
TEXT_OPS = ("eq", "ne", "in", "not_in", "prefix", "between", "gt", "gte", "lt", "lte", "exists")


@st.composite
def text_tests(draw: st.DrawFn) -> tuple[bool, list[dict[str, Any]]]:
    word = st.text(alphabet=ALPHABET, min_size=1, max_size=3).filter(lambda w: w.strip())
    tests: list[dict[str, Any]] = []
    for op in draw(st.lists(st.sampled_from(TEXT_OPS), min_size=1, max_size=5)):
        if op in ("in", "not_in", "prefix"):
            tests.append({op: draw(st.lists(word, min_size=1, max_size=3))})
        elif op == "between":
            tests.append({op: draw(st.lists(word, min_size=2, max_size=2))})
        elif op == "exists":
            tests.append({op: draw(st.booleans())})
        else:
            tests.append({op: draw(word)})
    return draw(st.booleans()), tests


@settings(max_examples=200, deadline=None)
@given(text_tests(), st.lists(st.text(alphabet=ALPHABET, max_size=4), max_size=12))
def test_text_atoms_agree_with_the_operators(drawn: tuple[bool, list[dict[str, Any]]],
                                             values: list[str]) -> None:
    from sfa_rules.analysis.atoms import partitions
    from sfa_rules.criteria.predicates import compile as compile_node

    case_sensitive, tests = drawn
    ctx_config = Config.model_validate({
        "settings": {"case_sensitive": case_sensitive},
        "territories": [{"id": f"t{i}", "when": {"f": t}} for i, t in enumerate(tests)],
    })
    ctx = CriteriaContext(ctx_config, Positions())
    if ctx.problems:  # e.g. a between whose bounds fold the wrong way round
        return
    nodes = [ctx.node(("territories", i, "when")) for i in range(len(tests))]
    part = partitions(nodes, case_sensitive)["f"]
    if part.kind == "opaque":  # allowed (nothing claimed), but must stay rare
        return
    witnesses = [w for w in part.witnesses.values()]
    for value in [*values, *(w for w in witnesses if w is not None)]:
        facts = ctx.facts({"f": value})
        atom = part.locate_text(value)
        assert part.valid >> atom & 1, (value, atom)
        for node in nodes:
            assert compile_node(node)(facts) == bool(part.mask(node) >> atom & 1), (value, node)
    for atom, witness in part.witnesses.items():
        assert part.locate_text(witness) == atom


ORDER_OPS = ("between", "gt", "gte", "lt", "lte", "exists")
number = st.one_of(st.integers(-3, 3), st.sampled_from([0.5, -1.5, 2.25, 1e15]))
day = st.dates(min_value=__import__("datetime").date(2026, 12, 28),
               max_value=__import__("datetime").date(2027, 1, 3)).map(lambda d: d.isoformat())
number_text = st.one_of(number.map(str), st.sampled_from(["n/a", " 2 ", "1e0", "inf", "-inf", "nan",
                                                          "1_000", "0.75", "2.0000001", ""]))
day_text = st.one_of(day, st.sampled_from(["2027-01-01T10:00", "2027-13-01", "soon", "0001-01-01",
                                           "9999-12-31", "2027-01-02 08:00"]))


@settings(max_examples=150, deadline=None)
@given(st.sampled_from([(number, number_text), (day, day_text)]).flatmap(
    lambda kinds: st.tuples(st.lists(st.tuples(st.sampled_from(ORDER_OPS), kinds[0], kinds[0]),
                                     min_size=1, max_size=4),
                            st.lists(kinds[1], max_size=12))))
def test_number_and_date_atoms_agree_with_the_operators(
        drawn: tuple[list[tuple[str, Any, Any]], list[str]]) -> None:
    from sfa_rules.analysis.atoms import partitions
    from sfa_rules.criteria.predicates import compile as compile_node

    specs, values = drawn
    tests = [{op: sorted([a, b]) if op == "between" else True if op == "exists" else a}
             for op, a, b in specs]
    config = Config.model_validate(
        {"territories": [{"id": f"t{i}", "when": {"f": t}} for i, t in enumerate(tests)]})
    ctx = CriteriaContext(config, Positions())
    assert ctx.problems == []
    nodes = [ctx.node(("territories", i, "when")) for i in range(len(tests))]
    part = partitions(nodes, False)["f"]
    assert part.kind != "opaque"
    for value in [*values, *(w for w in part.witnesses.values() if w is not None)]:
        facts = ctx.facts({"f": value})
        atom = part.locate_text(value)
        assert part.valid >> atom & 1, (value, atom)
        for node in nodes:
            assert compile_node(node)(facts) == bool(part.mask(node) >> atom & 1), (value, node)


@pytest.mark.parametrize("territories", [
    [{"id": "a", "parent": "b", "when": {"country": "US"}}, {"id": "b", "parent": "a"}],
    [{"id": "a", "rules": ["missing"]}, {"id": "b", "when": {"country": "US"}}],
    [{"id": "a", "when": {"zip": {"between": [9, 1]}}}, {"id": "b", "when": {"zip": {"bogus": 1}}}],
], ids=["parent-loop", "unknown-rule", "bad-operators"])
def test_broken_criteria_claim_nothing(territories: list[dict[str, Any]]) -> None:
    """Errors are reported by `checks` and `criteria`; called anyway, the analysis does
    not crash and says nothing about the broken territories."""
    for t in territories:
        t["members"] = [{"rep": "ana"}]
    config = Config.model_validate({"reps": [{"id": "ana"}], "territories": territories})
    assert analysis.check(config, Positions()) == []


# -- the box algebra and its index, against enumeration --------------------------------


def _algebra() -> Any:
    from sfa_rules.analysis.atoms import Partition
    from sfa_rules.analysis.regions import Algebra

    parts = {"a": Partition("a", "text", ["a", "b", "c"], False),
             "n": Partition("n", "number", [1, 2], False),
             "s": Partition("s", "text", ["x"], False)}
    return Algebra(parts)


ALGEBRA = _algebra()
POINTS = list(product(*[[(name, atom) for atom in range(mask.bit_length()) if mask >> atom & 1]
                        for name, mask in ALGEBRA.valid.items()]))


def _holds(box: Any, point: Any) -> bool:
    return all(box.get(name, -1) >> atom & 1 for name, atom in point)


def _cover(region: Any) -> set[Any]:
    return {p for p in POINTS if any(_holds(b, p) for b in region)}


def _masks(name: str) -> st.SearchStrategy[int]:
    valid = ALGEBRA.valid[name]
    return st.integers(1, valid).map(lambda m: m & valid).filter(bool)


boxes = st.fixed_dictionaries({}, optional={name: _masks(name) for name in ALGEBRA.valid})


@pytest.mark.slow
@settings(max_examples=200, deadline=None)
@given(st.lists(boxes, max_size=6), st.lists(boxes, max_size=8))
# Two boxes joined into "n is free", then a third joined into that one: it stays free.
@hypothesis.example(region=[{"n": 22}, {"n": 105}, {"n": 1}], filed=[])
def test_cut_merge_and_index_are_exact(region: list[Any], filed: list[Any]) -> None:
    from sfa_rules.analysis.regions import BoxIndex

    alg = ALGEBRA
    merged = alg.merge(region)
    assert _cover(merged) == _cover(region) and len(merged) <= max(len(region), 1)
    index = BoxIndex()
    for owner, box in enumerate(filed):
        index.add(box, owner)
    rest = list(region)
    for box in filed:
        cut = alg.cut(rest, box)
        if cut is None:
            assert not _cover(rest) & _cover([box])
        else:
            assert _cover(cut) == _cover(rest) - _cover([box])
            rest = cut
    for box in region:
        found = list(index.meeting(box))
        assert found == sorted(found)
        assert {k for k, b in enumerate(filed) if alg.meets(box, b)} <= set(found)


# -- the work cap: giving up claims nothing -------------------------------------------


def test_work_cap_names_the_territory_and_claims_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    from sfa_rules.analysis import scan as analysis_scan

    config = Config.model_validate({
        "reps": [{"id": "ana"}],
        "territories": [
            {"id": "ca", "priority": 1, "when": {"state": "CA"}, "members": [{"rep": "ana"}]},
            {"id": "not-ca", "priority": 1, "when": {"state": {"ne": "CA"}}, "members": [{"rep": "ana"}]},
            {"id": "us", "priority": 2, "when": {"country": "US"}, "members": [{"rep": "ana"}]},
        ],
    })
    before = [(p.code, p.message) for p in analysis.check(config, Positions())]
    said = "territory 'us' can never match: 'ca' (priority 1) and 'not-ca' (priority 1) together"
    assert before == [("shadowed-territory", f"{said} match every record it matches")]
    monkeypatch.setattr(analysis_scan, "MAX_WORK", 0)  # gives up after its first cut
    after = [(p.code, p.severity, p.message) for p in analysis.check(config, Positions())]
    assert [a[:2] for a in after] == [("not-analysed", "info")]
    assert all("overlaps too many earlier criteria" in a[2] for a in after)


@pytest.mark.slow
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(configs(), st.integers(0, 6), st.none() | st.integers(0, 12))
def test_claims_stay_sound_when_the_work_cap_is_hit(raw: dict[str, Any], cap: int,
                                                     limit: int | None) -> None:
    """However small the cap (per territory) or the limit (per validate), what is
    still reported holds for every record."""
    from sfa_rules.analysis import scan as analysis_scan

    if limit is not None:
        raw = {**raw, "settings": {"analysis_limit": limit}}
    config = Config.model_validate(raw)
    ctx = CriteriaContext(config, Positions())
    index = TerritoryIndex(config, ctx)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(analysis_scan, "MAX_WORK", cap)
        findings = Analysis(config, Positions(), ctx).territory_findings
    ids = [t.id for t in config.territories]
    winners = set()
    for rec, day in UNIVERSE:
        winners.add(next((t.id for t in index.scan(ctx.facts(rec), day) if not t.default), None))
    assert not set(findings.shadowed) & set(findings.not_analysed)
    stopped = set(findings.stopped)
    assert not stopped & (set(findings.shadowed) | set(findings.residual) | set(findings.not_analysed))
    assert not any(a in stopped or b in stopped for a, b, _ in findings.ambiguous)
    assert not {ids[i] for i in findings.shadowed} & winners
    for a, b, example in findings.ambiguous:
        record = {("created" if k == "(Date)" else k): v for k, v in example.items()}
        days = [record.pop("created")] if "created" in record else DAYS
        assert any(
            [t.id for t in index.scan(ctx.facts(record), d) if not t.default][:1] == [ids[a]]
            and ids[b] in [t.id for t in index.scan(ctx.facts(record), d)]
            for d in days), example
