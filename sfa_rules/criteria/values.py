"""What a record's value means before any criterion reads it: a value that is absent,
empty or only blanks is absent; text is trimmed. The engine and the lifecycle read
record fields through ``blank`` and ``text``; the lifecycle and the forecast read an
``amount`` through ``read_amount``, so that a row every command
accepts is a row the forecast counts."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

__all__ = ["blank", "parse_amount", "read_amount", "text"]

_AMOUNT = re.compile(r"-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?", re.ASCII)  # not '١٢'
_DIGITS = 15  # amounts are below 10**15, a thousand million million


def blank(value: Any) -> bool:
    """Absent or empty after trimming blanks (SPEC §3: the same as absent)."""
    return value is None or (isinstance(value, str) and not value.strip())


def text(value: Any) -> str | None:
    """The value as trimmed text, or None when blank."""
    return None if blank(value) else str(value).strip()


def parse_amount(text: str) -> Decimal | None:
    """The exact value of amount text: an optional leading ``-``, digits, optionally
    grouped by ``,`` in threes, an optional ``.`` and decimals; None when unreadable."""
    text = text.strip()
    if not _AMOUNT.fullmatch(text):
        return None
    return Decimal(text.replace(",", "")) if "," in text else Decimal(text)


def read_amount(written: str) -> Decimal | str:
    """The exact value of amount text, or why it is ``bad-amount``: unreadable, or 15
    digits or more before its decimal point (beyond any deal, and beyond what a JSON
    number carries to the cent)."""
    amount = parse_amount(written)
    if amount is None:
        return (f"amount {_shown(written)} is not a number (expected digits, optionally"
                " with a leading '-', ',' between thousands and a '.' decimal part)")
    if amount.adjusted() >= _DIGITS:  # 10**15 or more (adjusted: its top digit's place)
        return (f"amount {_shown(written)} is too large (at most 15 digits before the"
                " decimal point)")
    return amount


def _shown(text: str) -> str:
    """``text`` quoted for a message, shortened when long (a 5,000-digit amount)."""
    return repr(text) if len(text) <= 40 else repr(text[:20] + "..." + text[-10:])
