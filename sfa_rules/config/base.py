"""What every configuration model shares: the frozen base model and the id types.

Below :mod:`models` and the import models (:mod:`imports`), so that both can use them
without importing each other.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    StringConstraints,
    TypeAdapter,
    ValidationError,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema


def _as_list(value: Any) -> Any:
    """Let a single value stand for a one-item list (``stage: lead``)."""
    return [value] if isinstance(value, (str, int, float)) else value


class OneOrList:
    """Marks a list whose single item may be written alone (``stage: lead``): ``wrap``
    makes it a one-item list, and the JSON Schema (``sfa schema``) allows either form."""

    def __init__(self, wrap: Callable[[Any], Any] = _as_list) -> None:
        self.wrap = wrap

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_before_validator_function(self.wrap, handler(source))

    def __get_pydantic_json_schema__(self, schema: CoreSchema,
                                     handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        array = handler(schema)
        return {"anyOf": [handler.resolve_ref_schema(array)["items"], array]}


ONE_OR_LIST = OneOrList()


def _as_text(value: Any) -> Any:
    """Ids written as numbers in YAML are ids all the same (``id: 2027``)."""
    return str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value


def _as_id(value: Any) -> Any:
    """A whole number is an id (``id: 2027``); a decimal one is refused, since YAML has
    already read ``1.50`` as 1.5 and the id as written is lost."""
    if isinstance(value, float):
        raise ValueError("must be text or a whole number (a decimal number loses how it "
                         "was written: quote it, id: \"1.50\")")
    return _as_text(value)


_NOT_BLANK = StringConstraints(min_length=1, pattern=r"\S")
# Validated as text; the JSON Schema (``sfa schema``) takes a whole number too, as YAML
# writes one.
Id = Annotated[str, BeforeValidator(
    _as_id, json_schema_input_type=Annotated[str, _NOT_BLANK] | int), _NOT_BLANK]
IdList = Annotated[list[Id], ONE_OR_LIST]
_ID: TypeAdapter[str] = TypeAdapter(Id)


def is_id(value: Any) -> bool:
    """Whether ``value`` validates as an id (the ``Id`` type says)."""
    try:
        _ID.validate_python(value)
    except ValidationError:
        return False
    return True
# A value a field may hold (``settings.domains``): not an id, so a decimal number is one.
Value = Annotated[str, BeforeValidator(
    _as_text, json_schema_input_type=Annotated[str, _NOT_BLANK] | int | float), _NOT_BLANK]
Text = Annotated[str, BeforeValidator(_as_text, json_schema_input_type=str | int | float)]


class Model(BaseModel):
    """Base of every configuration model: frozen, no unknown keys."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)
