"""Numbers as an export writes them (SPEC §16 ``numbers``) -> plain decimal text.

``NumberFormat(decimal, thousands)`` reads ``1,234.50``, ``€ 1.234,50`` (decimal ``,``),
``USD 1,234``, ``-$12`` or ``(1,234.00)`` and gives ``1234.50``-style text, exact (no
float), which is what the forecast and the criteria read. A currency symbol or a
three-letter currency code before or after the number is ignored.
"""

from __future__ import annotations

import re

__all__ = ["NumberFormat"]

_SYMBOLS = "$¢£¤¥֏؋৲৳฿៛₠-₿﷼＄￠￡￥￦"
_PREFIX = re.compile(rf"^(?:[A-Za-z]{{3}}\s*|[A-Za-z]{{0,2}}[{_SYMBOLS}]\s*)")
_SUFFIX = re.compile(rf"(?:\s*[A-Za-z]{{3}}|\s*[{_SYMBOLS}])$")
_SPACES = "\u00a0\u202f"  # what spreadsheets put between thousands
_CACHE_LIMIT = 20_000


class NumberFormat:
    """One import's number format; ``read`` gives plain decimal text or None."""

    def __init__(self, decimal: str = ".", thousands: str | None = None) -> None:
        if thousands is None:
            thousands = "," if decimal == "." else "."
        self.decimal, self.thousands = decimal, thousands
        d = re.escape(decimal)
        if thousands:
            t = "[ " + _SPACES + "]" if thousands == " " else re.escape(thousands)
            core = rf"(?:\d{{1,3}}(?:{t}\d{{3}})+|\d+)(?:{d}\d+)?"
        else:
            core = rf"\d+(?:{d}\d+)?"
        self._core = re.compile(core)
        self._cache: dict[str, str | None] = {}

    def describe(self) -> str:
        """``decimal '.', thousands ','``: for messages."""
        return f"decimal {self.decimal!r}, thousands {self.thousands!r}"

    def read(self, text: str) -> str | None:
        """``1234.50`` for ``"$ 1,234.50"``; None when the text is not such a number."""
        found = self._cache.get(text, _MISSING)
        if found is _MISSING:
            found = self._read(text)
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[text] = found
        return found  # type: ignore[return-value]

    def _read(self, text: str) -> str | None:
        rest = text.strip()
        negative = False
        if rest.startswith("(") and rest.endswith(")"):
            negative, rest = True, rest[1:-1].strip()
        if rest.startswith("-"):
            negative, rest = not negative, rest[1:].lstrip()
        rest = _SUFFIX.sub("", _PREFIX.sub("", rest))
        if rest.startswith("-") and not negative:
            negative, rest = True, rest[1:].lstrip()
        if not self._core.fullmatch(rest):
            return None
        if self.thousands:
            for mark in (self.thousands, *(_SPACES if self.thousands == " " else ())):
                rest = rest.replace(mark, "")
        if self.decimal != ".":
            rest = rest.replace(self.decimal, ".")
        return ("-" if negative else "") + rest


_MISSING = object()
