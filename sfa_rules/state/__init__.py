"""What runs remember: the Store contract, in memory, in SQLite and in PostgreSQL
(SPEC §9, §21).

``store`` holds the contract, ``MemoryStore`` and the codecs; ``sqlite`` (with
``sqlite_parts``) the state file; ``postgres`` (with its parts, loaded only for a
``postgresql://`` URL: psycopg is optional) the shared database; ``open`` picks one.
This package names them all but ``PostgresStore``.
"""

from sfa_rules.state.open import is_postgres_url, open_state
from sfa_rules.state.sqlite import SQLiteStore
from sfa_rules.state.store import (
    MemoryStore,
    StateError,
    Store,
    decode_decisions,
    encode_decisions,
    encode_lines,
)

__all__ = [
    "MemoryStore", "SQLiteStore", "StateError", "Store", "decode_decisions",
    "encode_decisions", "encode_lines", "is_postgres_url", "open_state",
]
