"""The sales organisation (SPEC §17): who reports to whom, teams, rep names as owners.

A :class:`Hierarchy` is built once from the configured reps and answers, fast and
without walking pydantic models per record:

- :meth:`Hierarchy.owner`: the rep id an owner text names. A rep's id, or its
  ``name`` (or id) compared ignoring case and every blank (``Moses Frase``,
  ``moses  frase``, ``MOSES.FRASE``), gives its id; a name two reps share names neither
  (``sfa validate`` warns: ``duplicate-rep-name``); any other text stays as it is
  (owners that are not configured reps are kept, SPEC §5).
- :meth:`Hierarchy.managers`: the management chain above a rep, nearest first; it
  stops at a rep with no manager, at a manager that is not a rep, and at a loop (which
  ``sfa validate`` refuses: ``manager-cycle``), so it never runs forever.
- :meth:`Hierarchy.organisation`: every rep below a manager, at any depth.
- :meth:`Hierarchy.team`: a rep's team.
"""

from __future__ import annotations

from collections.abc import Iterable

from sfa_rules.config.models import Rep

_CACHE_LIMIT = 10_000  # owner texts remembered; ever-new texts cannot grow it forever


def name_key(text: str) -> str:
    """``text`` compared ignoring case and every blank: ``" Moses  FRASE"`` -> ``mosesfrase``."""
    return "".join(text.split()).casefold()


class Hierarchy:
    """Reps, their managers and teams; see the module docstring."""

    def __init__(self, reps: Iterable[Rep]) -> None:
        self.reps: dict[str, Rep] = {}
        for rep in reps:
            self.reps.setdefault(rep.id, rep)
        self._keys: dict[str, str | None] = {}  # name_key -> id; None: ambiguous
        for rep in self.reps.values():
            for text in (rep.id, rep.name):
                if text:
                    key = name_key(text)
                    if key and self._keys.get(key, rep.id) != rep.id:
                        self._keys[key] = None
                    elif key:
                        self._keys[key] = rep.id
        self._owners: dict[str, str] = {}
        self._chains: dict[str, tuple[str, ...]] = {}
        self._reports: dict[str, list[str]] = {}
        for rep in self.reps.values():
            if rep.manager is not None:
                self._reports.setdefault(rep.manager, []).append(rep.id)

    def owner(self, text: str) -> str:
        """The rep id that ``text`` names, else ``text`` itself (module docstring)."""
        found = self._owners.get(text)
        if found is not None:
            return found
        if text in self.reps:
            found = text
        else:
            found = self._keys.get(name_key(text)) or text
        if len(self._owners) >= _CACHE_LIMIT:
            self._owners.clear()
        self._owners[text] = found
        return found

    def managers(self, rep_id: str) -> tuple[str, ...]:
        """The managers above ``rep_id``, nearest first; ``()`` for none or not a rep."""
        chain = self._chains.get(rep_id)
        if chain is not None:
            return chain
        found: list[str] = []
        rep = self.reps.get(rep_id)
        while rep is not None and rep.manager is not None and rep.manager in self.reps:
            if rep.manager == rep_id or rep.manager in found:
                break  # a loop (a configuration error): stop, never spin
            found.append(rep.manager)
            rep = self.reps[rep.manager]
        chain = self._chains[rep_id] = tuple(found)
        return chain

    def reports(self, manager: str) -> tuple[str, ...]:
        """The reps whose `manager` is ``manager`` (direct reports), in file order."""
        return tuple(self._reports.get(manager, ()))

    def organisation(self, manager: str) -> tuple[str, ...]:
        """Every rep below ``manager`` at any depth (not ``manager``), each once."""
        seen: dict[str, None] = {}
        todo = list(self.reports(manager))
        while todo:
            rep = todo.pop(0)
            if rep in seen or rep == manager:
                continue
            seen[rep] = None
            todo.extend(self.reports(rep))
        return tuple(seen)

    def team(self, rep_id: str) -> str | None:
        """The team of ``rep_id``; None without one or when it is not a rep."""
        rep = self.reps.get(rep_id)
        return rep.team if rep is not None else None

    def teams(self) -> tuple[str, ...]:
        """Every team some rep belongs to, in file order."""
        return tuple(dict.fromkeys(r.team for r in self.reps.values() if r.team is not None))

    def sells(self, rep_id: str) -> bool:
        """Does ``rep_id`` take records (a configured rep without `sells: false`)?"""
        rep = self.reps.get(rep_id)
        return rep is not None and rep.sells


def parse_period(text: str) -> tuple[int, int, int] | None:
    """A quota period as ``(year, quarter, month)``, 0 for the parts it does not name:
    ``2017`` -> (2017, 0, 0), ``2017-Q2`` -> (2017, 2, 0), ``2017-05`` -> (2017, 2, 5);
    None when it is none of the three (what the forecast's periods look like)."""
    text = text.strip()
    year, _, rest = text.partition("-")
    if len(year) != 4 or not year.isdigit() or not year.isascii():
        return None
    if not rest and not _:
        return int(year), 0, 0
    if len(rest) == 2 and rest[0] in "Qq" and rest[1] in "1234":
        return int(year), int(rest[1]), 0
    if len(rest) == 2 and rest.isdigit() and rest.isascii() and 1 <= int(rest) <= 12:
        month = int(rest)
        return int(year), (month - 1) // 3 + 1, month
    return None
