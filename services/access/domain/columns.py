"""Column rules of a listing: how each column is classified and generalised."""

import itertools
from collections.abc import Sequence
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.access.domain.errors import AnonymisationFailed

Classification = Literal["direct_identifier", "quasi_identifier", "sensitive", "attribute"]
ColumnType = Literal["string", "integer", "number", "boolean", "date", "datetime"]
DateUnit = Literal["day", "month", "year", "decade"]


class _Hint(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class NumericBands(_Hint):
    """Bands of growing width, one level each (e.g. 5, 10, 20, 50), then `*`."""

    kind: Literal["numeric_bands"] = "numeric_bands"
    widths: tuple[float, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _widths_grow(self) -> "NumericBands":
        if any(w <= 0 for w in self.widths):
            raise ValueError("band widths must be positive")
        if any(b <= a for a, b in itertools.pairwise(self.widths)):
            raise ValueError("band widths must increase from one level to the next")
        return self


class DateTruncation(_Hint):
    """Truncate dates level by level (default month, year, decade), then `*`."""

    kind: Literal["date_truncation"] = "date_truncation"
    units: tuple[DateUnit, ...] = ("month", "year", "decade")

    @model_validator(mode="after")
    def _units_coarsen(self) -> "DateTruncation":
        order: tuple[DateUnit, ...] = ("day", "month", "year", "decade")
        ranks = [order.index(u) for u in self.units]
        if not ranks or any(b <= a for a, b in itertools.pairwise(ranks)):
            raise ValueError("date units must coarsen, e.g. month, year, decade")
        return self


class AdminLevel(_Hint):
    """Administrative units (commune → province → region) from a mapping table, then `*`.

    `table` names the mapping in the build's hierarchies (default: the column's name);
    its columns are the levels in order, the first being the column's own unit.
    """

    kind: Literal["admin_level"] = "admin_level"
    table: str | None = None


class HierarchyTable(_Hint):
    """An ARX-style hierarchy: each row a value then its generalisations up to `*`.

    `table` names the hierarchy in the build's hierarchies (default: the column's name).
    """

    kind: Literal["hierarchy"] = "hierarchy"
    table: str | None = None


class Suppress(_Hint):
    """No intermediate level: the value is kept or replaced by `*`."""

    kind: Literal["suppress"] = "suppress"


GeneralisationHint = Annotated[
    NumericBands | DateTruncation | AdminLevel | HierarchyTable | Suppress,
    Field(discriminator="kind"),
]


class ColumnRule(BaseModel):
    """How one column of a listing's data file is treated in a buyer's extract.

    Direct identifiers are dropped unless `keep_as_pseudonym`; quasi-identifiers are
    generalised along `hint` (none means kept or suppressed); sensitive columns are
    released as they are but must be ℓ-diverse; attributes are released as they are.
    `type` fixes how a CSV column is parsed.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    classification: Classification
    type: ColumnType | None = None
    hint: GeneralisationHint | None = None
    keep_as_pseudonym: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> "ColumnRule":
        if self.keep_as_pseudonym and self.classification != "direct_identifier":
            raise ValueError("only a direct identifier can be kept as a pseudonym")
        if self.hint is not None and self.classification != "quasi_identifier":
            raise ValueError("only a quasi-identifier takes a generalisation hint")
        return self

    def hierarchy_name(self) -> str:
        """The key of this column's table among the build's hierarchies."""
        if isinstance(self.hint, AdminLevel | HierarchyTable) and self.hint.table:
            return self.hint.table
        return self.name


def validate_column_rules(rules: Sequence[ColumnRule], source_columns: Sequence[str]) -> None:
    """Every source column has exactly one rule, and every rule names a source column.

    An unclassified column could carry anything, so the build refuses it.
    """
    names = [r.name for r in rules]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise AnonymisationFailed("invalid_rules", f"columns ruled twice: {duplicates}")
    unknown = sorted(set(names) - set(source_columns))
    if unknown:
        raise AnonymisationFailed("invalid_rules", f"rules for columns not in the data: {unknown}")
    unruled = [c for c in source_columns if c not in set(names)]
    if unruled:
        raise AnonymisationFailed("invalid_rules", f"columns without a classification: {unruled}")
