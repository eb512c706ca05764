"""What a record's value means before any criterion reads it (SPEC §3): a value that is
absent, empty or only blanks is absent; text is trimmed. The engine and the lifecycle
read record fields through these two."""

from __future__ import annotations

from typing import Any

__all__ = ["blank", "text"]


def blank(value: Any) -> bool:
    """Absent or empty after trimming blanks (SPEC §3: the same as absent)."""
    return value is None or (isinstance(value, str) and not value.strip())


def text(value: Any) -> str | None:
    """The value as trimmed text, or None when blank."""
    return None if blank(value) else str(value).strip()
