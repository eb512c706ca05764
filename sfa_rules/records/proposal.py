"""The ``imports:`` entry ``sfa inspect`` proposes for profiled files, as YAML text.

The text is a complete configuration file (``sfa inspect f.csv > rules/imports.yaml``):
the profile of each file as comments, then one import per file. It maps every column
that has a canonical field under another name, the values of enumerations that a
did-you-mean resolves (``Won: Closed Won``; the others are listed as comments to map
by hand), the date format of the date fields and the number format when the numbers
are not plain. What it cannot guess it says in a comment, and leaves out, so that the
text always passes ``sfa validate``.
"""

from __future__ import annotations

import glob
import json
import re
from collections import Counter
from collections.abc import Iterable
from fnmatch import fnmatchcase
from pathlib import Path

from sfa_rules.records.inspect import ColumnProfile, FileProfile, describe

__all__ = ["render"]

_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_ .\-/()]*")
_RESERVED = {"true", "false", "null", "yes", "no", "on", "off", "y", "n", "~"}
_HINT = re.compile(r" \(did you mean '(.*)'\?\)$")
ISO = "%Y-%m-%d"


def q(text: str) -> str:
    """``text`` as a YAML scalar: plain where that reads back as the same text."""
    if _PLAIN.fullmatch(text) and text == text.strip() and text.lower() not in _RESERVED \
            and ": " not in text and " #" not in text:
        return text
    return json.dumps(text, ensure_ascii=False)


def _rows(count: int) -> str:
    return f"{count:,} row{'' if count == 1 else 's'}"


def _import_id(source: str, taken: set[str]) -> str:
    stem = Path(source).name.split(".")[0]
    base = re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-") or "import"
    found, n = base, 1
    while found in taken:
        n += 1
        found = f"{base}-{n}"
    taken.add(found)
    return found


def _profile_comments(p: FileProfile) -> list[str]:
    scanned = f" (the first {p.rows:,})" if p.truncated else ""
    read_as = p.type or (f"{', '.join(p.row_types)} (its type column)" if p.row_types
                         else "(type not guessed)")
    lines = [f"# {p.source}: {p.rows:,} rows{scanned}, read as {read_as}"]
    width = max([len(c.name) for c in p.columns] + [6])
    kinds = [describe(c) for c in p.columns]
    kw = max([len(k) for k in kinds] + [5])
    lines.append(f"#   {'column'.ljust(width)}  {'holds'.ljust(kw)}  empty   field")
    for col, kind in zip(p.columns, kinds):
        share = f"{col.empty_share(p.rows):.0%}".rjust(5)
        how = {"alias": "alias of settings.fields", "name": "by name"}.get(col.how, col.how)
        mapped = f"{col.field} ({how})" if col.field else "-"
        lines.append(f"#   {col.name.ljust(width)}  {kind.ljust(kw)}  {share}   {mapped}")
        if col.unread:
            lines.append(f"#     {col.unread:,} of its values are not {col.kind}s")
    for col in p.columns:
        if col.unknown:
            lines.append(f"#   {col.name} -> {col.field}: values the configuration does not know:")
            lines += [f"#     {value!r}: {_rows(count)}{hint}" for value, count, hint in col.unknown]
    return lines


def _field_lines(col: ColumnProfile, fmt: str | None, notes: list[str]) -> list[str]:
    assert col.field is not None
    values = [(v, _HINT.search(h)) for v, _, h in col.unknown]
    mapped = [(v, m.group(1)) for v, m in values if m]
    unmapped = [(v, c) for v, c, h in col.unknown if not _HINT.search(h)]
    own_format = col.date_format if col.kind == "date" and col.date_format != fmt else None
    if not mapped and own_format is None:
        out = [f"      {q(col.field)}: {q(col.name)}"]
    else:
        out = [f"      {q(col.field)}:", f"        column: {q(col.name)}"]
        if own_format is not None:
            out.append(f"        format: {q(own_format)}")
        if mapped:
            out.append("        values:")
            out += [f"          {q(raw)}: {q(to)}" for raw, to in mapped]
    if col.field == "status":  # unknown statuses are record errors: say each
        out += [f"      # {col.name}: {raw!r} ({_rows(count)}) is no status the configuration "
                f"has: map it under values" for raw, count in unmapped]
    elif unmapped:
        out.append(f"      # {col.name}: {len(unmapped)} value(s) outside settings.domains."
                   f"{col.field} (listed above)")
    if col.kind == "date" and col.also:
        notes.append(f"{col.name}: its dates read as {col.date_format} and as "
                     f"{', '.join(col.also)}: check which is right")
    return out


def _stem(source: str, whole: bool = False) -> str:
    """A file name's stem: up to its first dot (``leads`` of ``leads.2026-01.csv``), or
    ``whole``, all but its suffix."""
    name = Path(source).name
    return name[:-len(Path(name).suffix) or None] if whole else name.split(".")[0]


def _patterns(profiles: list[FileProfile]) -> tuple[list[tuple[FileProfile, str]], list[str]]:
    """The profiles that get an import, each with its ``files`` pattern (its stem,
    anything: a date, a part number, then its suffix), and a note for each other one.
    Of two files whose patterns are one, one import reads both when their columns are
    the same; else the later one's whole stem tells it apart."""
    chosen: dict[str, FileProfile] = {}
    imports: list[tuple[FileProfile, str]] = []
    notes: list[str] = []
    for p in profiles:
        suffix = glob.escape(Path(p.source).suffix)
        pattern = glob.escape(_stem(p.source)) + "*" + suffix
        first = chosen.get(pattern.casefold())
        if first is not None and _columns_of(first) == _columns_of(p):
            notes.append(f"  # {p.source}: read by the import of {first.source} (the same "
                         "columns)")
            continue
        if first is not None:
            pattern = glob.escape(_stem(p.source, whole=True)) + "*" + suffix
        if (first := chosen.get(pattern.casefold())) is not None:  # an import is chosen
            notes.append(f"  # {p.source}: read by the import of {first.source}, which has "
                         "its name; give it another name for an import of its own")
            continue  # by the file's name alone
        chosen[pattern.casefold()] = p
        imports.append((p, pattern))
    return imports, notes


def _tried_order(imports: list[tuple[FileProfile, str]]) -> list[tuple[FileProfile, str]]:
    """The imports in the order they are to be tried: one whose pattern takes another's
    file (``leads*.csv`` takes ``leads_eu.csv``) after that one, as an import reads the
    first file name it matches. A longer pattern is the narrower."""
    names = [Path(p.source).name.casefold() for p, _ in imports]
    if not any(fnmatchcase(other, pattern.casefold())
               for (_, pattern), name in zip(imports, names, strict=True)
               for other in names if other != name):
        return imports
    return sorted(imports, key=lambda item: -len(item[1]))  # stable: ties keep order


def _columns_of(p: FileProfile) -> list[str]:
    return [c.name.strip().casefold() for c in p.columns]


def _entry(p: FileProfile, import_id: str, pattern: str, date_fields: set[str],
           number_fields: set[str]) -> list[str]:
    lines = [f"  - id: {import_id}", f"    files: [{q(pattern)}]"]
    if p.type is not None:
        lines.append(f"    type: {p.type}")
    elif p.row_types:
        lines.append("    # type: each row's own type column")
    else:
        lines.append("    # type: not guessed from the name or columns: set one (lead, customer, ...)")
    mapped = [c for c in p.columns if c.field is not None]
    formats = Counter(c.date_format for c in mapped
                      if c.field in date_fields and c.kind == "date" and c.date_format != ISO)
    fmt = formats.most_common(1)[0][0] if formats else None
    if fmt is not None:
        lines.append(f"    date_format: {q(fmt)}")
    numbers = [c for c in mapped if c.field in number_fields and c.kind == "number"]
    if any(not c.plain for c in numbers):
        decimal = Counter(c.decimal for c in numbers).most_common(1)[0][0]
        lines.append(f"    numbers: {{decimal: {q(decimal)}, thousands: "
                     f"{q(',' if decimal == '.' else '.')}}}")
    notes: list[str] = []
    body: list[str] = []
    for col in mapped:
        resolved = any(_HINT.search(hint) for _, _, hint in col.unknown)
        needs = col.field != col.name.strip().lower() or resolved or (
            col.field == "status" and col.unknown) or (
            col.kind == "date" and col.date_format not in (fmt, ISO, None))
        if needs:
            body += _field_lines(col, fmt, notes)
    if body:
        lines += ["    fields:", *body]
    elif mapped:
        lines.append("    # fields: every column already reads as its field")
    else:
        lines.append("    # fields: no column is named as a field the rules read: map each "
                     "one they need as `field: COLUMN`")
    if "id" not in {c.field for c in mapped}:
        notes.append("no column seems to hold the id: add `id: COLUMN` to fields")
    for col in p.columns:
        if col.mixed:
            shares = ", ".join(f"{fmt} {_rows(n)}" for fmt, n in col.mixed)
            notes.append(f"{col.name} holds dates in {len(col.mixed)} formats ({shares}): an "
                         "import reads one; write the column in one format, or split the "
                         "file and give each part an import with its date_format")
        if col.field is None and col.kind == "date":
            notes.append(f"{col.name} holds dates ({col.date_format}) but maps to no field: "
                         f"map it to read them as dates (e.g. created: {col.name})")
        elif col.field is None and col.kind == "number" and not col.plain:
            notes.append(f"{col.name} holds numbers with a decimal {col.decimal!r} but maps to "
                         f"no field: map it to read them as numbers (e.g. amount: {col.name}) "
                         f"with numbers: {{decimal: {q(col.decimal)}, thousands: "
                         f"{q(',' if col.decimal == '.' else '.')}}}")
    return lines + [f"    # {note}" for note in notes]


def render(profiles: Iterable[FileProfile], date_fields: set[str], number_fields: set[str],
           taken: Iterable[str] = (), current: dict[str, str] | None = None) -> str:
    """The proposed configuration file: the profiles as comments, then ``imports:``.
    ``taken`` are the import ids the configuration has; ``current`` the id of the
    import that reads each file today."""
    profiles = list(profiles)
    used = set(taken)
    head = ["# Proposed by `sfa inspect`: review it, then keep it as rules/imports.yaml."]
    for p in profiles:
        lines = _profile_comments(p)
        if current and p.source in current:
            lines.insert(1, f"#   (read today by the import '{current[p.source]}'; this "
                            "profile is of the file as it is, without it)")
        head += ["#", *lines]
    body = ["imports:"]
    imports, notes = _patterns(profiles)
    ids = {p.source: _import_id(p.source, used) for p, _ in imports}  # in the files' order
    for p, pattern in _tried_order(imports):
        body += _entry(p, ids[p.source], pattern, date_fields, number_fields)
    body += notes
    return "\n".join(head + body) + "\n"
