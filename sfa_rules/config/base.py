"""What every configuration model shares: the frozen base model and the id types.

Below :mod:`models` and the import models (:mod:`imports`), so that both can use them
without importing each other.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, StringConstraints


def _as_list(value: Any) -> Any:
    """Let a single value stand for a one-item list (``stage: lead``)."""
    return [value] if isinstance(value, (str, int, float)) else value


def _as_text(value: Any) -> Any:
    """Ids written as numbers in YAML are ids all the same (``id: 2027``)."""
    return str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value


Id = Annotated[str, BeforeValidator(_as_text), StringConstraints(min_length=1)]
IdList = Annotated[list[Id], BeforeValidator(_as_list)]
Text = Annotated[str, BeforeValidator(_as_text)]


class Model(BaseModel):
    """Base of every configuration model: frozen, no unknown keys."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)
