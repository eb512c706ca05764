"""Find, read and merge the configuration files into one :class:`models.Config` (SPEC §2).

Every file is read with :mod:`yamlread` and each top-level section (and each item of a
list section) is validated on its own, so that one bad file, or one bad territory, does
not hide the problems of the others. Pydantic runs in strict mode on the JSON form of
the data: only ``true``/``false`` are booleans and ``"10"`` is not a number, in the
configuration's own keys just as in its values.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path as FsPath
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from sfa_rules.config import models
from sfa_rules.config.base import is_id
from sfa_rules.config.files import FileRefused, read_text, unreadable
from sfa_rules.config.modelerrors import problems_from, shown
from sfa_rules.config.partial import salvage, salvage_item
from sfa_rules.config.yamlread import Document, Path, Positions, load
from sfa_rules.errors import Problem, key_hint

PACKAGED = FsPath(__file__).parent.parent / "defaults"
SUBFOLDERS = ("rules", "territories")
SUFFIXES = (".yaml", ".yml")


def resolve_folder(folder: str | os.PathLike[str] | None) -> FsPath:
    """The configuration folder (SPEC §2).

    An explicit folder is used as given. Otherwise the current directory when it holds
    ``rules/`` or ``territories/``, else the default configuration shipped in the package.
    """
    if folder is not None:
        return FsPath(folder)
    cwd = FsPath.cwd()
    if any((cwd / sub).is_dir() for sub in SUBFOLDERS):
        return cwd
    return PACKAGED


def discover(folder: FsPath) -> list[FsPath]:
    """Every ``*.yaml`` / ``*.yml`` below ``rules/`` and ``territories/``, in path order
    (``.YAML`` too: editors on Windows save names so).

    Names starting with a dot (editor and VCS files) are skipped.
    """
    found: list[FsPath] = []
    for sub in SUBFOLDERS:
        top = folder / sub
        if not top.is_dir():
            continue
        for root, dirs, files in os.walk(top):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            found.extend(
                FsPath(root) / name
                for name in files
                if name.lower().endswith(SUFFIXES) and not name.startswith(".")
            )
    return sorted(found, key=lambda p: p.relative_to(folder).parts)


def _top_level_repeat(problem: Problem) -> Problem:
    """A top-level key written twice (a block pasted below another) says what it costs
    and how to fix it: its second value is not read, so nothing in it is checked."""
    if problem.code != "duplicate-key" or problem.column != 1:
        return problem
    key = problem.message.split("'")[1] if problem.message.count("'") >= 2 else ""
    how = (f"move its items into the first '{key}:' list (or into a file of its own)"
           if SECTIONS.get(key, (None, False))[1] else
           f"move its keys into the first '{key}:' block")
    return replace(problem, message=(
        f"{problem.message}: the second block is not read, and nothing in it is checked; "
        f"{how}"))


class SourceMap:
    """Positions of the merged configuration's values in the files they came from."""

    def __init__(self, folder: FsPath) -> None:
        self.folder = folder
        self.files: list[str] = []
        # The positions of each file; not its data, which the merged Config holds.
        self.positions: dict[str, Positions] = {}
        # list key -> for each merged index: (file, index in that file)
        self.items: dict[str, list[tuple[str, int]]] = {k: [] for k in models.LIST_KEYS}
        self.sections: dict[str, str] = {}  # mapping key -> file
        # A list inside a mapping section that lost items for their errors: the file's
        # index of each item kept (``partial.salvage``).
        self.kept: dict[Path, list[int]] = {}
        # Ids of items dropped for their own errors: references to them are not reported
        # again as unknown.
        self.invalid_ids: dict[str, set[str]] = {k: set() for k in models.LIST_KEYS}
        # ... and where each was: (file, index in the file's list, id), in reading order
        self.dropped: dict[str, list[tuple[str, int, str]]] = {k: [] for k in models.LIST_KEYS}
        # Where reading refused a value (a tag, a number too large): it stands as None,
        # and a type error there would only repeat that problem.
        self.refused: set[tuple[str, int, int]] = set()

    def locate(self, path: Path) -> tuple[str, Path] | None:
        """The file and the path inside it of a merged-configuration path."""
        if not path:
            return None
        head = path[0]
        if isinstance(head, str) and head in self.items:
            if len(path) == 1 or not isinstance(path[1], int):
                places = self.items[head]
                return (places[0][0], (head,)) if places else None
            index = path[1]
            if not 0 <= index < len(self.items[head]):
                return None
            file, local = self.items[head][index]
            return file, (head, local) + path[2:]
        if isinstance(head, str) and head in self.sections:
            return self.sections[head], self._in_file(path)
        return None

    def _in_file(self, path: Path) -> Path:
        """A mapping section's path with its first list index as in the file."""
        for i, seg in enumerate(path):
            if isinstance(seg, int):
                kept = self.kept.get(path[:i])
                if kept is not None and 0 <= seg < len(kept):
                    return path[:i] + (kept[seg],) + path[i + 1:]
                break
        return path

    def _find(self, path: Path, keys: bool) -> tuple[str, int, int]:
        where = self.locate(path)
        if where is None:
            return (self.files[0] if self.files else ".", 1, 1)
        file, local = where
        positions = self.positions[file]
        pos = (positions.key_at(local) if keys else None) or positions.at(local)
        line, col = pos or (1, 1)
        return file, line, col

    def at(self, path: Path) -> tuple[str, int, int]:
        """``(file, line, column)`` of the value at ``path`` (or its longest known prefix)."""
        return self._find(path, keys=False)

    def key_at(self, path: Path) -> tuple[str, int, int]:
        """``(file, line, column)`` of the key naming ``path`` (else as :meth:`at`)."""
        return self._find(path, keys=True)

    def section_of(self, problem: Problem) -> str | None:
        """The section (top-level key) of its file that ``problem`` is in; None when it
        is in none: before the first, in a file read as no mapping, under an unknown key."""
        positions = self.positions.get(problem.file)
        if problem.code == "duplicate-key":  # a repeated section's second half is lost,
            return None  # and positions name its first: no section can be trusted
        found = None
        for pos, key in positions.top_keys() if positions is not None else ():
            if pos <= (problem.line, problem.column):
                found = key
        return found if found in SECTIONS else None

    def problem(self, path: Path, code: str, message: str, severity: str = "error",
                key: bool = False) -> Problem:
        """A problem positioned at ``path`` of the merged configuration."""
        file, line, col = self.key_at(path) if key else self.at(path)
        return Problem(file, line, col, severity, code, message)


def _section_model(key: str) -> tuple[type[BaseModel], bool]:
    """The model of a top-level key, and whether the key holds a list of them."""
    annotation = models.ConfigFile.model_fields[key].annotation
    for arg in getattr(annotation, "__args__", ()):
        if arg is type(None):
            continue
        if getattr(arg, "__origin__", None) is list:
            item: type[BaseModel] = arg.__args__[0]
            return item, True
        return arg, False
    raise AssertionError(f"unexpected annotation for {key}")  # pragma: no cover


SECTIONS = {key: _section_model(key) for key in models.ConfigFile.model_fields}
# The keys of an item that it is not checked without, when they fail: its id, and
# what the checks of its other keys rest on (a quota's target; the distribution a
# territory's weights are for).
ESSENTIAL = {"quotas": ("id", "rep", "team", "manager"), "territories": ("id", "distribution")}
# Items of a list validated in one call: pydantic holds a call's whole JSON parsed at
# once, about 20 times its text; ten thousand territories in one file took 30 MiB more.
CHUNK = 500
LIST_ADAPTERS: dict[str, TypeAdapter[list[Any]]] = {
    key: TypeAdapter(list[model])  # type: ignore[valid-type]
    for key, (model, is_list) in SECTIONS.items() if is_list
}


def _validate(model: type[BaseModel], value: Any, base: Path, doc: Document,
              file: str) -> tuple[BaseModel | None, list[Problem]]:
    try:
        return _as_written(model.model_validate_json(json.dumps(value), strict=True), value), []
    except ValidationError as exc:
        # A value YAML reading already refused (a tag, a merge key) stands as None
        # in the data: its type error would only repeat that problem.
        reported = {(p.line, p.column) for p in doc.problems}
        return None, [p for p in problems_from(exc, base, doc, file)
                      if (p.line, p.column) not in reported]


def _as_written(model: BaseModel, raw: Any) -> BaseModel:
    """``model`` with its criteria blocks (``when``) as the YAML gave them: validated
    through JSON, a number there lost how it was written (``1.50`` became 1.5), and
    criteria compare a number as written. Only a block equal to what was read is
    swapped, so nothing validation changed is undone."""
    if not isinstance(raw, dict):
        return model
    for name, info in type(model).model_fields.items():
        value, given = model.__dict__.get(name), raw.get(info.alias or name)
        if isinstance(value, BaseModel):
            _as_written(value, given)
        elif isinstance(value, (list, tuple)) and isinstance(given, list):
            for item, item_raw in zip(value, given):
                if isinstance(item, BaseModel):
                    _as_written(item, item_raw)
        elif name == "when" and isinstance(value, dict) and value is not given and value == given:
            object.__setattr__(model, name, given)
    return model


def _share_field_sets(value: Any, shared: dict[frozenset[str], set[str]]) -> None:
    """Let the models in ``value`` given the same fields share one set of their names.

    Pydantic keeps in every instance the set of the fields its input gave, and a set of
    five names takes 728 bytes, more than a territory's values; the models are frozen,
    so the sets never change, and one set per combination serves them all (11 MiB less
    for 10,000 territories).
    """
    if isinstance(value, BaseModel):
        names = value.__pydantic_fields_set__
        same = shared.setdefault(frozenset(names), names)
        if same is not names:
            object.__setattr__(value, "__pydantic_fields_set__", same)
        for field in value.__dict__.values():
            if isinstance(field, (BaseModel, list, tuple)):
                _share_field_sets(field, shared)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _share_field_sets(item, shared)


class _Merger:
    """Accumulates the valid sections of every file into the parts of a Config."""

    def __init__(self, sm: SourceMap) -> None:
        self.sm = sm
        self.mappings: dict[str, BaseModel] = {}
        self.lists: dict[str, list[BaseModel]] = {k: [] for k in models.LIST_KEYS}
        self.problems: list[Problem] = []
        self.field_sets: dict[frozenset[str], set[str]] = {}

    def add_file(self, file: str, doc: Document) -> None:
        self.problems.extend(_top_level_repeat(p) for p in doc.problems)
        data = doc.data
        if data is None:
            return
        if not isinstance(data, dict):
            self.problems.append(Problem(
                file, 1, 1, "error", "wrong-type",
                "a configuration file must be a mapping of top-level keys "
                f"({', '.join(SECTIONS)})",
            ))
            return
        for key, value in data.items():
            line, col = doc.positions.key_at((key,)) or (1, 1)
            if key not in SECTIONS:
                self.problems.append(Problem(
                    file, line, col, "error", "unknown-key",
                    f"unknown top-level key '{key}'{key_hint(key, SECTIONS)}",
                ))
            elif value is not None:
                self.add_section(file, doc, key, value, (line, col))

    def add_section(self, file: str, doc: Document, key: str, value: Any,
                    at: tuple[int, int]) -> None:
        model, is_list = SECTIONS[key]
        if not is_list:
            first = self.sm.sections.get(key)
            if first is not None:
                fl, fc = self.sm.positions[first].key_at((key,)) or (1, 1)
                self.problems.append(Problem(
                    file, at[0], at[1], "error", "duplicate-section",
                    f"'{key}' is already defined in {first}:{fl}:{fc}; "
                    "a mapping section may appear in one file only",
                ))
                return
            self.sm.sections[key] = file
            valid, problems = _validate(model, value, (key,), doc, file)
            self.problems.extend(problems)
            if valid is None:  # still check what is right in it
                valid, kept = salvage(model, value)
                self.sm.kept.update({(key, *path): places for path, places in kept.items()})
            if valid is not None:
                self.mappings[key] = valid
            return
        if not isinstance(value, list):
            line, col = doc.positions.at((key,)) or (1, 1)
            self.problems.append(Problem(
                file, line, col, "error", "wrong-type",
                f"{key} must be a list, got {shown(value)}",
            ))
            return
        for start in range(0, len(value), CHUNK):
            self.add_items(file, doc, key, value, start)

    def add_items(self, file: str, doc: Document, key: str, value: list[Any],
                  start: int) -> None:
        """Validate the items of the list ``value`` from ``start``, CHUNK of them."""
        chunk = value[start:start + CHUNK]
        try:
            # The common case, valid items, in one call; item by item only when some
            # item is wrong, so that the others are still loaded.
            items = LIST_ADAPTERS[key].validate_json(json.dumps(chunk), strict=True)
        except ValidationError:
            pass
        else:
            for item, raw in zip(items, chunk):
                _as_written(item, raw)
            _share_field_sets(items, self.field_sets)
            self.sm.items[key].extend((file, start + i) for i in range(len(items)))
            self.lists[key].extend(items)
            return
        model = SECTIONS[key][0]
        for index, item in enumerate(chunk, start):
            valid, problems = _validate(model, item, (key, index), doc, file)
            self.problems.extend(problems)
            if valid is None and problems:  # still check what is right in it
                valid = salvage_item(model, item, ESSENTIAL.get(key, ("id",)))
                if valid is not None:
                    _as_written(valid, item)
            if valid is not None:
                _share_field_sets(valid, self.field_sets)
                self.sm.items[key].append((file, index))
                self.lists[key].append(valid)
            elif isinstance(item, dict) and isinstance(item.get("id"), (str, int, float)):
                self.sm.invalid_ids[key].add(str(item["id"]))
                if is_id(item["id"]):  # what it holds, for duplicate-id
                    self.sm.dropped[key].append((file, index, str(item["id"])))

    def config(self) -> models.Config:
        parts: dict[str, Any] = dict(self.mappings)
        parts.update({key: tuple(items) for key, items in self.lists.items()})
        return models.Config(**parts)


def load_config(
    folder: str | os.PathLike[str] | None,
) -> tuple[models.Config, SourceMap, list[Problem]]:
    """Read and merge a configuration folder; never raises for a mistake in it.

    Returns the Config merged from every section that validated (sections and list
    items with errors are left out), the SourceMap, and every problem, sorted.
    """
    root = resolve_folder(folder)
    sm = SourceMap(root)
    merger = _Merger(sm)
    if not root.is_dir():
        merger.problems.append(Problem(
            str(root), 1, 1, "error", "no-configuration", "configuration folder not found",
        ))
        return merger.config(), sm, merger.problems
    paths = discover(root)
    if not paths:
        inside = root.name in ("rules", "territories") or any(root.glob("*.y*ml"))
        hint = (f": this looks like a folder of rule files itself; pass the folder that holds "
                f"rules/ and territories/ ({root.parent})" if inside else "")
        merger.problems.append(Problem(
            str(root), 1, 1, "error", "no-configuration",
            f"no *.yaml files below rules/ or territories/{hint}",
        ))
    for path in paths:
        file = path.relative_to(root).as_posix()
        sm.files.append(file)
        try:
            text = read_text(path)
        except (OSError, FileRefused) as exc:
            sm.positions[file] = Positions()
            refused = exc if isinstance(exc, FileRefused) else \
                FileRefused("unreadable-file", unreadable(path, exc))
            merger.problems.append(Problem(file, refused.line, refused.column, "error",
                                           refused.code, refused.message))
            continue
        doc = load(text, file)
        sm.positions[file] = doc.positions
        sm.refused.update((p.file, p.line, p.column) for p in doc.problems)
        merger.add_file(file, doc)
    return merger.config(), sm, sorted(merger.problems)
