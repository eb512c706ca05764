"""What runs remember: the Store contract, in memory and in SQLite (SPEC §9).

``store`` holds the contract, ``MemoryStore`` and the codecs; ``sqlite`` (with
``sqlite_parts``) the state file; this package names them all.
"""

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
    "encode_decisions", "encode_lines",
]
