"""The ``imports:`` section (SPEC §16): how the files of a CRM export read, as data.

An import says which files it reads (globs on the base name), their record type,
which column holds which canonical field, value maps, and the date and number formats
of the export. Applying one to rows is :mod:`sfa_rules.records.imports`; its checks
(formats, record types, statuses) are :mod:`sfa_rules.config.importchecks`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from sfa_rules.config.base import Id, IdList, Model, Text

__all__ = ["FieldMap", "Import", "Numbers", "TypeColumn"]


class TypeColumn(Model):
    """The record type read from a column of the file, through a value map."""

    column: Id = Field(description="The column that holds each row's type.")
    values: dict[str, Text] = Field(default_factory=dict, description="Raw value -> record type (raw values compare ignoring case and surrounding blanks); unmapped values are read as record types themselves.")


class FieldMap(Model):
    """A column read as a canonical field, with a value map and a date format."""

    column: Id = Field(description="The export's column.")
    values: dict[str, Text] = Field(default_factory=dict, description="Raw value -> the value the engine sees (raw values compare ignoring case and surrounding blanks); unmapped values pass as they are.")
    format: str | None = Field(None, description="strptime format of this field's dates (wins over the import's `date_format`); the field is then read as a date.")


class Numbers(Model):
    """How the export writes numbers; a currency symbol or code around them is ignored."""

    decimal: Literal[".", ","] = Field(".", description="The decimal mark.")
    thousands: Literal[",", ".", " ", "'", ""] | None = Field(None, description="The thousands separator (`\"\"`: none). Default: `,` with decimal `.`, `.` with decimal `,`.")


class Import(Model):
    """How the files of one kind of export read (tried in order; the first whose `files` matches)."""

    id: Id = Field(description="Unique id, for `--import ID` and `FILE::ID`.")
    description: str | None = Field(None, description="What the import reads.")
    files: IdList = Field(default_factory=list, description="Globs on the file's base name (`accounts*.csv`), case-insensitive; none: only by `--import` or `FILE::ID`.")
    type: Id | TypeColumn | None = Field(None, description="Every row's record type (`customer`), or `{column, values}`; a non-blank `type` column in the file still wins. None: as without an import (`--type`, the file name).")
    fields: dict[str, Id | FieldMap] = Field(default_factory=dict, description="Canonical field -> the export's column, or `{column, values, format}`. A mapped column is read under its canonical name only; other columns pass through.")
    date_format: str | None = Field(None, description="strptime format (`%d-%m-%y`) of every date field (`created`, `expected_close`, `date`, fields compared as dates); read as ISO `YYYY-MM-DD`.")
    numbers: Numbers = Field(Numbers(), description="Number format of `amount`, `probability`, `employees` and fields compared as numbers: they are read as plain decimal text (`$1,234.50` -> `1234.50`); an unreadable amount is `bad-amount`.")
