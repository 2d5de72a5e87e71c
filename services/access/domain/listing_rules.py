"""Map a catalog listing's column schema onto the anonymisation engine's column rules.

The catalog publishes each column's classification and generalisation hint as
plain data (``{"kind": "numeric_bands", "widths": [...]}``, ``{"kind":
"date_truncation", "levels": [...]}``, ``{"kind": "admin_level" | "hierarchy",
"table": [[value, level1, ...], ...]}``); the hierarchy tables travel with the
hint, so they become the build's hierarchies under the column's name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from pydantic import ValidationError

from services.access.domain.columns import (
    AdminLevel,
    ColumnRule,
    DateTruncation,
    GeneralisationHint,
    HierarchyTable,
    NumericBands,
)
from services.access.domain.errors import AnonymisationFailed


@dataclass(frozen=True)
class BuildPlan:
    """The column rules of one build and the hierarchy tables they name."""

    rules: list[ColumnRule]
    hierarchies: dict[str, list[list[str]]] = field(default_factory=dict)


def plan_from_columns(columns: Sequence[Mapping[str, Any]]) -> BuildPlan:
    """Rules for catalog columns (``name``, ``type``, ``classification``, ``hint``, ...)."""
    rules: list[ColumnRule] = []
    hierarchies: dict[str, list[list[str]]] = {}
    for column in columns:
        name = str(column["name"])
        hint_data = column.get("hint")
        hint = _hint(name, hint_data) if isinstance(hint_data, Mapping) else None
        if isinstance(hint, AdminLevel | HierarchyTable) and isinstance(hint_data, Mapping):
            hierarchies[name] = [[str(cell) for cell in row] for row in hint_data["table"]]
        try:
            rules.append(
                ColumnRule(
                    name=name,
                    classification=column["classification"],
                    type=column.get("type"),
                    hint=hint,
                    keep_as_pseudonym=bool(column.get("keep_as_pseudonym", False)),
                )
            )
        except ValidationError as exc:
            raise AnonymisationFailed(
                "invalid_rules", f"column {name!r}: {exc.errors()[0]['msg']}"
            ) from exc
    return BuildPlan(rules, hierarchies)


def _hint(name: str, hint: Mapping[str, Any]) -> GeneralisationHint:
    kind = hint.get("kind")
    try:
        if kind == "numeric_bands":
            return NumericBands(widths=tuple(hint["widths"]))
        if kind == "date_truncation":
            return DateTruncation(units=tuple(hint.get("levels") or ("month", "year", "decade")))
        if kind in ("admin_level", "hierarchy"):
            table = hint.get("table")
            if not isinstance(table, list) or not table:
                raise AnonymisationFailed("invalid_rules", f"column {name!r}: {kind} needs a table")
            cls = AdminLevel if kind == "admin_level" else HierarchyTable
            return cast(GeneralisationHint, cls(table=name))
    except (KeyError, TypeError, ValidationError) as exc:
        raise AnonymisationFailed("invalid_rules", f"column {name!r}: bad {kind} hint") from exc
    raise AnonymisationFailed("invalid_rules", f"column {name!r}: unknown hint kind {kind!r}")
