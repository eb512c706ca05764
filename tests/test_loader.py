"""The loader and the checks, through the broken configurations of tests/cases/config.

Each case file holds the files of a small configuration inline and the problems
``validate`` must report, as ``file:line:col code`` lines in output order (sorted by
file, then line), plus message fragments that must appear.
"""

from __future__ import annotations

import filecmp
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import CASES, REPO, WriteConfig, write_config_files
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sfa_rules.api import validate_config as validate
from sfa_rules.config import loader, models
from sfa_rules.config.loader import discover, load_config, resolve_folder
from sfa_rules.engine.core import load

CONFIG_CASES = sorted((CASES / "config").glob("*.yaml"))


def _case(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as fh:
        case: dict[str, Any] = yaml.safe_load(fh)
    return case


@pytest.mark.parametrize("case_path", CONFIG_CASES, ids=[p.stem for p in CONFIG_CASES])
def test_config_case(case_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    case = _case(case_path)
    folder = write_config_files(tmp_path / "config", case["files"])
    monkeypatch.chdir(tmp_path)  # where a tag that ran would have left its marker
    config, _, problems = validate(folder)
    got = [f"{p.file}:{p.line}:{p.column} {p.code}" for p in problems]
    assert got == case["expected"]
    assert problems == sorted(problems)
    messages = "\n".join(p.message for p in problems)
    for fragment in case.get("messages", []):
        assert fragment in messages
    if case.get("not_created"):
        assert not (tmp_path / case["not_created"]).exists()
    assert (config is None) == any(p.severity == "error" for p in problems)


def test_there_are_enough_cases() -> None:
    assert len(CONFIG_CASES) >= 30


# -- the shipped configuration ----------------------------------------------


def test_shipped_configuration_is_clean() -> None:
    config, _, problems = validate(REPO)
    assert [str(p) for p in problems if p.severity == "error"] == []
    assert config is not None
    assert config.territories and config.reps and config.statuses


def test_packaged_copy_is_the_top_level_configuration() -> None:
    for sub in ("rules", "territories"):
        packaged, top = loader.PACKAGED / sub, REPO / sub
        assert packaged.is_dir()
        names = sorted(p.name for p in top.rglob("*.y*ml"))
        assert names == sorted(p.name for p in packaged.rglob("*.y*ml"))
        _match, mismatch, errors = filecmp.cmpfiles(top, packaged, names, shallow=False)
        assert (mismatch, errors) == ([], [])


# -- discovery and folder resolution ------------------------------------------


def test_discovery_is_recursive_sorted_and_skips_other_files(write_config: WriteConfig) -> None:
    folder = write_config({
        "territories/b.yaml": "", "territories/a/z.yml": "", "rules/x.yaml": "",
        "rules/notes.txt": "", "rules/.#x.yaml": "", "other/y.yaml": "", "top.yaml": "",
        "territories/.git/config.yaml": "", "territories/C.YAML": "",
    })
    found = [p.relative_to(folder).as_posix() for p in discover(folder)]
    assert found == ["rules/x.yaml", "territories/C.YAML", "territories/a/z.yml",
                     "territories/b.yaml"]


def test_resolve_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_folder(tmp_path / "given") == tmp_path / "given"
    monkeypatch.chdir(tmp_path)
    assert resolve_folder(None) == loader.PACKAGED
    (tmp_path / "territories").mkdir()
    assert resolve_folder(None) == tmp_path


def test_missing_and_empty_folders_are_problems_not_exceptions(tmp_path: Path) -> None:
    _, _, problems = load_config(tmp_path / "nowhere")
    assert [p.code for p in problems] == ["no-configuration"]
    _, _, problems = load_config(tmp_path)
    assert [p.code for p in problems] == ["no-configuration"]
    assert "this looks like" not in problems[0].message


def test_the_rules_folder_itself_is_told_to_pass_its_parent(tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "settings.yaml").write_text("settings: {}\n", encoding="utf-8")
    _, _, problems = load_config(tmp_path / "rules")
    assert [(p.code, p.message) for p in problems] == [(
        "no-configuration", "no *.yaml files below rules/ or territories/: this looks like a "
        "folder of rule files itself; pass the folder that holds rules/ and territories/ "
        f"({tmp_path})")]


def test_undecodable_file_is_reported_and_others_still_load(write_config: WriteConfig) -> None:
    folder = write_config({"territories/reps.yaml": "reps: [{id: ana}]\n"})
    (folder / "rules").mkdir()
    # "Gómez" in UTF-8, then a Latin-1 "é"
    (folder / "rules" / "bad.yaml").write_bytes(b"settings:\n  name: G\xc3\xb3mez \xe9\n")
    config, _, problems = load_config(folder)
    assert [(p.file, p.line, p.column, p.code, p.message) for p in problems] == [(
        "rules/bad.yaml", 2, 15, "unreadable-file", "the file is not UTF-8: byte b'\\xe9' "
        "here cannot be read (a file saved as Latin-1 or Windows-1252?): save it as UTF-8")]
    assert [r.id for r in config.reps] == ["ana"]


def test_references_into_an_unread_file_say_so(write_config: WriteConfig) -> None:
    """The ids an unread file held are unknown to the checks: their warnings say where
    they may be, instead of reading as mistakes of their own (one mistake, one error)."""
    folder = write_config({
        "territories/t.yaml": "territories:\n  - {id: pool, default: true, members: [{rep: ana}]}\n",
    })
    (folder / "territories" / "reps.yaml").write_bytes(b"reps: [{id: ana, name: G\xf3mez}]\n")
    _, _, problems = validate(folder)
    assert [p.severity for p in problems] == ["error", "warning"]
    assert [(p.file, p.code, p.message) for p in problems] == [
        ("territories/reps.yaml", "unreadable-file",
         "the file is not UTF-8: byte b'\\xf3' here cannot be read (a file saved as Latin-1 "
         "or Windows-1252?): save it as UTF-8"),
        ("territories/t.yaml", "unknown-rep",
         "territory 'pool': unknown rep 'ana' (it may be defined in territories/reps.yaml, "
         "which could not be read)"),
    ]


def test_byte_order_mark_is_accepted(write_config: WriteConfig) -> None:
    folder = write_config({"territories/reps.yaml": "\ufeffreps: [{id: ana}]\n"})
    config, _, problems = load_config(folder)
    assert problems == [] and [r.id for r in config.reps] == ["ana"]


# -- merging and the source map -----------------------------------------------


MERGE = {
    "rules/lifecycle.yaml": (
        "statuses:\n"
        "  - {id: LEAD-New, stage: lead, probability: 0}\n"
        "lifecycle:\n"
        "  transitions:\n"
        "    - id: t\n"
        "      on: estimate.created\n"
        "      to: LEAD-New\n"
    ),
    "territories/a.yaml": "reps:\n  - id: ana\n  - id: luis\nterritories:\n  - id: one\n",
    "territories/b.yaml": (
        "territories:\n"
        "  - id: two\n"
        "    members:\n"
        "      - rep: ana\n"
        "      - rep: luis\n"
        "        weight: 3\n"
        "reps:\n"
        "  - id: carla\n"
    ),
}


def test_lists_concatenate_in_file_order(write_config: WriteConfig) -> None:
    config, _, problems = load_config(write_config(MERGE))
    assert problems == []
    assert [t.id for t in config.territories] == ["one", "two"]
    assert [r.id for r in config.reps] == ["ana", "luis", "carla"]
    assert config.territories[1].members[1] == models.Member(rep="luis", weight=3)


@pytest.mark.parametrize(
    ("path", "value_at", "key_at"),
    [
        (("territories", 1, "members", 1, "weight"), ("territories/b.yaml", 6, 17),
         ("territories/b.yaml", 6, 9)),
        (("territories", 1, "members", 1), ("territories/b.yaml", 5, 9),
         ("territories/b.yaml", 5, 9)),
        (("territories", 0, "id"), ("territories/a.yaml", 5, 9), ("territories/a.yaml", 5, 5)),
        (("reps", 2, "id"), ("territories/b.yaml", 8, 9), ("territories/b.yaml", 8, 5)),
        # Longest known prefix: the item, for a key it does not have.
        (("territories", 0, "when", "zip"), ("territories/a.yaml", 5, 5),
         ("territories/a.yaml", 5, 5)),
        (("lifecycle", "transitions", 0, "to"), ("rules/lifecycle.yaml", 7, 11),
         ("rules/lifecycle.yaml", 7, 7)),
    ],
)
def test_sourcemap_positions(
    write_config: WriteConfig, path: tuple[str | int, ...], value_at: tuple[str, int, int],
    key_at: tuple[str, int, int],
) -> None:
    _, sm, _ = load_config(write_config(MERGE))
    assert sm.at(path) == value_at
    assert sm.key_at(path) == key_at


def test_a_bad_key_leaves_the_rest_of_its_item_to_be_checked(write_config: WriteConfig) -> None:
    folder = write_config({
        "territories/t.yaml": (
            "territories:\n  - {id: a}\n  - {id: b, priority: high}\n  - {id: c}\n"
            "  - {id: [d], priority: 1}\n"
        ),
    })
    config, sm, problems = load_config(folder)
    # b is kept without its priority (so its members and criteria are still checked);
    # an item whose id fails is left out, and references to it are not reported again
    assert [(t.id, t.priority) for t in config.territories] == [("a", 100), ("b", 100),
                                                                ("c", 100)]
    assert [p.code for p in problems] == ["wrong-type", "wrong-type"]
    assert sm.at(("territories", 2, "id")) == ("territories/t.yaml", 4, 10)
    assert sm.invalid_ids["territories"] == set()


def test_long_lists_are_validated_in_chunks_with_the_same_outcome(
    write_config: WriteConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    items = "".join(
        f"  - {{id: {'[t' + str(i) + ']' if i in (1, 4) else 't' + str(i)}, priority: {i}}}\n"
        for i in range(7))
    folder = write_config({"territories/t.yaml": "territories:\n" + items})
    whole = load_config(folder)
    monkeypatch.setattr(loader, "CHUNK", 2)
    config, sm, problems = load_config(folder)
    assert [t.id for t in config.territories] == ["t0", "t2", "t3", "t5", "t6"]
    assert [(p.line, p.column, p.code) for p in problems] == [
        (3, 10, "wrong-type"), (6, 10, "wrong-type")]
    assert sm.at(("territories", 3, "id")) == ("territories/t.yaml", 7, 10)
    assert (config, problems) == whole[::2]


def test_models_given_the_same_fields_share_one_set_of_their_names(
    write_config: WriteConfig,
) -> None:
    folder = write_config({"territories/t.yaml": (
        "territories:\n"
        "  - {id: a, members: [{rep: ana}]}\n"
        "  - {id: b, members: [{rep: ana}, {rep: luis, weight: 3}]}\n"
        "  - {id: c, priority: 3}\n"
    )})
    config, _, problems = load_config(folder)
    assert problems == []
    a, b, c = config.territories
    assert a.model_fields_set is b.model_fields_set
    assert a.model_fields_set == {"id", "members"}
    assert c.model_fields_set == {"id", "priority"}
    ana = a.members[0]
    assert ana.model_fields_set is b.members[0].model_fields_set
    assert b.members[1].model_fields_set == {"rep", "weight"}
    # The sets are never changed in place: a copy gets its own.
    copy = ana.model_copy(update={"weight": 2})
    assert copy.model_fields_set == {"rep", "weight"}
    assert ana.model_fields_set == {"rep"} == b.members[0].model_fields_set


def test_load_config_never_raises_on_garbage(write_config: WriteConfig) -> None:
    texts = ["", "---\n", "42\n", "[[[", "a: b: c", "territories: [1, [2], {x: 1}]",
             "reps: [{id: null}, {id: ''}, {id: [1]}]", "\t- tab", "? [a]\n: b\n"]
    for i, text in enumerate(texts):
        folder = write_config({f"rules/f{i}.yaml": text})
        _, _, problems = load_config(folder)
        assert all(p.file == f"rules/f{i}.yaml" for p in problems)
    assert os.getcwd()  # nothing above changed the process state


# -- robustness: any edit of the shipped configuration ---------------------------

SHIPPED = {
    p.relative_to(REPO).as_posix(): p.read_text(encoding="utf-8")
    for sub in ("rules", "territories") for p in sorted((REPO / sub).rglob("*.yaml"))
}


@st.composite
def edited_configuration(draw: st.DrawFn) -> dict[str, str]:
    """The shipped files with a few random edits: lines dropped, duplicated or
    re-indented, characters replaced."""
    files = dict(SHIPPED)
    for _ in range(draw(st.integers(1, 4))):
        name = draw(st.sampled_from(sorted(files)))
        lines = files[name].splitlines()
        if not lines:
            continue
        i = draw(st.integers(0, len(lines) - 1))
        edit = draw(st.sampled_from(["drop", "repeat", "indent", "dedent", "char"]))
        if edit == "drop":
            del lines[i]
        elif edit == "repeat":
            lines.insert(i, lines[i])
        elif edit == "indent":
            lines[i] = "  " + lines[i]
        elif edit == "dedent":
            lines[i] = lines[i][2:]
        elif lines[i]:
            j = draw(st.integers(0, len(lines[i]) - 1))
            char = draw(st.sampled_from(list(":-[]{}&*!#'\"x0 ")))
            lines[i] = lines[i][:j] + char + lines[i][j + 1:]
        files[name] = "\n".join(lines) + "\n"
    return files


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edited_configuration())
def test_any_edit_gives_positioned_problems_never_an_exception(
    write_config: WriteConfig, files: dict[str, str]
) -> None:
    folder = write_config(files)
    config, _, problems = validate(folder)
    assert problems == sorted(problems)
    for p in problems:
        assert p.file in files
        assert 1 <= p.line <= files[p.file].count("\n") + 1
        assert p.column >= 1 and p.code and p.message
    assert (config is None) == any(p.severity == "error" for p in problems)


@pytest.mark.slow
def test_wheel_ships_real_copies_of_the_configuration(tmp_path: Path) -> None:
    """The packaged defaults are symlinks in the repository; the wheel must hold files."""
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
         "-w", str(tmp_path), str(REPO)],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert done.returncode == 0, done.stderr
    (wheel,) = tmp_path.glob("sfa_rules-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        shipped = {n.removeprefix("sfa_rules/defaults/"): archive.read(n)
                   for n in archive.namelist() if n.startswith("sfa_rules/defaults/")}
    assert shipped == {name: text.encode("utf-8") for name, text in SHIPPED.items()}


def _all_keys() -> list[str]:
    names: set[str] = set()
    for value in vars(models).values():
        if isinstance(value, type) and issubclass(value, models.Model):
            names |= {f.alias or n for n, f in value.model_fields.items()}
    return sorted(names)


KEYS = st.sampled_from([*_all_keys(), "distrbution", "weght", "eq", "gte"])
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 200), st.sampled_from(
        ["", "us-west", "lead", "round_robin", "2026-12-20", "2026-13-40", "opportunity",
         "estimate.created", "new_lead", "keep", "won", "pipeline", "ana"]),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(KEYS, inner, max_size=4)),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(st.sampled_from(sorted(models.ConfigFile.model_fields)), VALUES,
                       min_size=1, max_size=4))
def test_random_sections_give_problems_never_an_exception(
    write_config: WriteConfig, data: dict[str, Any]
) -> None:
    files = {"rules/random.yaml": yaml.safe_dump(data)}
    config, _, problems = validate(write_config(files))
    assert all(p.file == "rules/random.yaml" and p.line >= 1 for p in problems)
    assert (config is None) == any(p.severity == "error" for p in problems)


WRITTEN_NUMBERS = """\
sales_rules:
  - id: tier-as-written
    when: {tier: 2.10}
territories:
  - {id: by-prefix, priority: 1, when: {version: {prefix: 2.10}}, members: [{rep: ana.gomez}]}
  - {id: by-value, priority: 2, when: {ratio: 1.50}, members: [{rep: ana.gomez}]}
  - {id: by-list, priority: 3, when: {code: {in: [+5, 10.]}}, members: [{rep: ana.gomez}]}
  - {id: by-rule, priority: 4, rules: [tier-as-written], members: [{rep: ana.gomez}]}
"""


@pytest.mark.parametrize(("record", "territory"), [
    ({"version": "2.10.3"}, "by-prefix"),
    ({"version": "2.1.7"}, "unassigned-pool"),  # not "2.1", as Python prints 2.10
    ({"ratio": "1.50"}, "by-value"),
    ({"ratio": "1.5"}, "unassigned-pool"),
    ({"code": "+5"}, "by-list"),
    ({"code": "10."}, "by-list"),
    ({"code": "5"}, "unassigned-pool"),
    ({"tier": "2.10"}, "by-rule"),
    ({"tier": "2.1"}, "unassigned-pool"),
])
def test_numbers_in_loaded_criteria_compare_as_written(
        record: dict[str, str], territory: str, tmp_path: Path) -> None:
    """SPEC §3: a number in a rule file compares as its text, through the whole
    loader (list items are validated as JSON, which prints 1.50 as 1.5)."""
    folder = tmp_path / "config"
    shutil.copytree(REPO / "rules", folder / "rules")
    shutil.copytree(REPO / "territories", folder / "territories")
    (folder / "territories" / "written.yaml").write_text(WRITTEN_NUMBERS, encoding="utf-8")
    engine = load(folder)
    try:
        assert engine.decide({"id": "L-1", "type": "lead", **record}).territory == territory
    finally:
        engine.close()
