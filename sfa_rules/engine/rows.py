"""An input row and the record types (SPEC §8): what readers give and the engine takes.

Below both the readers (``records``) and the engine, so that neither imports the other.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from sfa_rules.config.recordtypes import PLURALS, RECORD_TYPES, TYPE_NAMES, normalise_type
from sfa_rules.errors import RecordError

__all__ = ["PLURALS", "RECORD_TYPES", "TYPE_NAMES", "InputRow", "normalise_type"]


class InputRow(NamedTuple):
    """One input row: where it came from, its record type, its raw record, or an error.

    A row with an ``error`` must not be processed (SPEC §8: it changes nothing). Its
    ``record`` and ``type``, when the row could still be parsed (invalid bytes shown as
    U+FFFD), are there only so that the decision can show the row's id and type;
    ``record`` is None when nothing could be parsed (``bad-json``, a broken CSV row).
    A named tuple: immutable, and half the cost of a frozen dataclass to make (measured
    on CPython 3.11), which counts at a million rows.
    """

    source: str
    row: int
    type: str | None
    record: dict[str, Any] | None
    error: RecordError | None = None
    warnings: tuple[str, ...] = ()  # what reading it found wrong (its decision shows them)

