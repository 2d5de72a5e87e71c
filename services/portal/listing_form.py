"""A provider's listing form: from form fields to the catalog's JSON body, and errors back.

The column schema is a text area, one column per line
(``name, type, classification[, description]``), so that an error the catalog
reports for ``columns.2.type`` lands next to line 3 of that text area.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import FormData

from services.portal.backends import BackendError

#: The catalog's vocabularies for these (it validates them; the form only offers them).
UPDATE_FREQUENCIES = ("irregular", "once", "daily", "weekly", "monthly", "quarterly", "yearly")
LICENCES = ("vndx-restricted-1.0", "vndx-research-1.0", "cc-by-4.0", "odc-by-1.0")
COLUMN_TYPES = ("string", "integer", "number", "boolean", "date", "datetime")
CLASSIFICATIONS = ("direct_identifier", "quasi_identifier", "sensitive", "attribute")
PRODUCTS = ("download", "sandbox")
USAGE_TERMS = ("allowed_purposes", "approval", "min_k", "min_group_size", "buyer_may_terminate")
TEXT_FIELDS = ("title_vi", "title_en", "description_vi", "description_en")
COLUMN_FIELD = re.compile(r"^columns\.(\d+)(?:\.(\w+))?")


@dataclass
class FieldErrors:
    """Messages keyed by form field; ``columns`` messages carry their line."""

    by_field: dict[str, list[str]] = field(default_factory=dict)

    def add(self, name: str, message: str) -> None:
        self.by_field.setdefault(name, []).append(message)

    def __bool__(self) -> bool:
        return bool(self.by_field)


def columns_text(columns: list[dict[str, Any]]) -> str:
    lines = []
    for column in columns:
        parts = [column["name"], column["type"], column["classification"]]
        if column.get("description"):
            parts.append(column["description"])
        lines.append(", ".join(parts))
    return "\n".join(lines)


def parse_columns(text: str, errors: FieldErrors, line_label: str) -> list[dict[str, Any]]:
    """Each non-empty line as a column; a line with too few parts is an error on that line."""
    columns: list[dict[str, Any]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        parts = [p.strip() for p in raw.split(",", 3)]
        if len(parts) < 3:
            errors.add("columns", line_label.format(line=number) + " name, type, classification")
            continue
        column: dict[str, Any] = {"name": parts[0], "type": parts[1], "classification": parts[2]}
        if len(parts) == 4 and parts[3]:
            column["description"] = parts[3]
        columns.append(column)
    return columns


def listing_body(
    form: FormData, errors: FieldErrors, line_label: str, number_message: str = "a whole number"
) -> dict[str, Any]:
    body: dict[str, Any] = {name: str(form.get(name, "")).strip() for name in TEXT_FIELDS}
    body["theme"] = str(form.get("theme", ""))
    body["provinces"] = [str(p) for p in form.getlist("provinces") if p]
    body["keywords"] = [k.strip() for k in str(form.get("keywords", "")).split(",") if k.strip()]
    body["update_frequency"] = str(form.get("update_frequency", "irregular"))
    body["licence"] = str(form.get("licence", LICENCES[0]))
    body["products"] = [str(p) for p in form.getlist("products")] or ["download"]
    body["allowed_purposes"] = [str(p) for p in form.getlist("allowed_purposes")]
    body["approval"] = str(form.get("approval", "automatic"))
    for name in ("min_k", "min_group_size"):
        raw = str(form.get(name, "")).strip()
        body[name] = int(raw) if raw.isdigit() else None
        if raw and not raw.isdigit():
            errors.add(name, number_message)
    body["buyer_may_terminate"] = form.get("buyer_may_terminate") == "yes"
    body["columns"] = parse_columns(str(form.get("columns", "")), errors, line_label)
    return body


def column_line(columns_source: str, index: int) -> int:
    """The text-area line (1-based) of the ``index``-th column (blank lines skipped)."""
    seen = -1
    for number, raw in enumerate(columns_source.splitlines(), start=1):
        if raw.strip():
            seen += 1
            if seen == index:
                return number
    return index + 1


def api_errors(exc: BackendError, columns_source: str, line_label: str) -> FieldErrors:
    """The catalog's refusal, each message under the form field it names."""
    errors = FieldErrors()
    reported = exc.errors or [{"field": exc.field or "", "message": exc.message}]
    for item in reported:
        name = str(item.get("field") or "")
        message = str(item.get("message") or exc.message)
        match = COLUMN_FIELD.match(name)
        if match:
            line = column_line(columns_source, int(match.group(1)))
            errors.add("columns", f"{line_label.format(line=line)} {message}")
        elif name.split(".")[0] in (
            *TEXT_FIELDS,
            "theme",
            "provinces",
            "keywords",
            "licence",
            "update_frequency",
            "products",
            *USAGE_TERMS,
        ):
            errors.add(name.split(".")[0], message)
        else:
            errors.add("form", message)
    return errors
