"""The matching index of a PostgreSQL state (SPEC §19, §21): the tables and queries of
``sqlite_matches`` in the schema ``sfa`` (created with the others, in ``postgres_parts``).

- ``match_records``: one row per lead, prospect or customer with keys (key values and
  index keys as JSON; created, activity, seq);
- ``match_keys``: ``(key, id)``, its primary key a B-tree, so the ids under an index key
  are one range scan whatever the size of the state.

Writes go straight into the run's open transaction (a rollback undoes them). A dry run
writes to its temporary tables: an entry there hides the state's entry of the same id
and all of its index keys, as in the SQLite store.
"""

from __future__ import annotations

import json
from typing import Any

import psycopg

from sfa_rules.entities import MatchEntry, MatchRef
from sfa_rules.state.postgres_parts import pg_errors

__all__ = ["PostgresMatches", "copy_matches"]

_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def copy_matches(db: psycopg.Connection[Any], source: str, target: str) -> None:
    """Move a dry run's match entries (``source``) into the state (``target``)."""
    db.execute(f"DELETE FROM {target}.match_keys WHERE id IN (SELECT id FROM {source}.match_records)")
    db.execute(
        f"INSERT INTO {target}.match_records SELECT * FROM {source}.match_records"
        " ON CONFLICT (id) DO UPDATE SET seq = EXCLUDED.seq, created = EXCLUDED.created,"
        " activity = EXCLUDED.activity, data = EXCLUDED.data"
    )
    db.execute(f"INSERT INTO {target}.match_keys SELECT * FROM {source}.match_keys ON CONFLICT DO NOTHING")
    db.execute(f"TRUNCATE {source}.match_records, {source}.match_keys")


class PostgresMatches:
    """The matching part of ``PostgresStore`` (a mixin over its connection and layers)."""

    _db: psycopg.Connection[Any]
    _layers: tuple[str, ...]
    _target: str
    _next_match_seq: int | None = None

    @pg_errors
    def get_match(self, id: str) -> MatchEntry | None:
        for db in self._layers:
            row = self._db.execute(
                f"SELECT id, seq, created, activity, data FROM {db}.match_records WHERE id = %s",
                (id,),
            ).fetchone()
            if row is not None:
                data = json.loads(row[4])
                return MatchEntry(row[0], data["values"], tuple(data["keys"]), row[2], row[3],
                                  row[1])
        return None

    @pg_errors
    def put_match(self, entry: MatchEntry, old: MatchEntry | None) -> None:
        db, target = self._db, self._target
        data = _encode({"values": dict(entry.values), "keys": list(entry.keys)})
        db.execute(
            f"INSERT INTO {target}.match_records VALUES (%s, %s, %s, %s, %s) ON CONFLICT (id)"
            " DO UPDATE SET seq = EXCLUDED.seq, created = EXCLUDED.created,"
            " activity = EXCLUDED.activity, data = EXCLUDED.data",
            (entry.id, entry.seq, entry.created, entry.activity, data),
        )
        db.execute(f"DELETE FROM {target}.match_keys WHERE id = %s", (entry.id,))
        if entry.keys:
            with db.cursor() as cur:
                cur.executemany(f"INSERT INTO {target}.match_keys VALUES (%s, %s)"
                                " ON CONFLICT DO NOTHING", [(k, entry.id) for k in entry.keys])

    @pg_errors
    def find_match(self, key: str) -> list[MatchRef]:
        """The records listed under ``key``, by id (an overlay entry hides the state's)."""
        top = self._layers[0]
        found: dict[str, MatchRef] = {}
        for db in self._layers:
            hide = ("" if db == top else f" AND NOT EXISTS (SELECT 1 FROM {top}.match_records m"
                    " WHERE m.id = k.id)")
            rows = self._db.execute(
                f"SELECT r.id, r.seq, r.created, r.activity FROM {db}.match_keys k"
                f" JOIN {db}.match_records r ON r.id = k.id WHERE k.key = %s{hide}", (key,),
            ).fetchall()
            for row in rows:
                found.setdefault(row[0], MatchRef(row[0], int(row[1]), row[2], row[3]))
        return [found[id] for id in sorted(found)]

    @pg_errors
    def match_seq(self) -> int:
        if self._next_match_seq is None:
            top = 0
            for db in self._layers:
                row = self._db.execute(f"SELECT max(seq) FROM {db}.match_records").fetchone()
                top = max(top, int(row[0] or 0) if row else 0)
            self._next_match_seq = top
        self._next_match_seq += 1
        return self._next_match_seq
