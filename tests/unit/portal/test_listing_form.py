"""A provider's column text area and the catalog's errors mapped back to its lines."""

from __future__ import annotations

from starlette.datastructures import FormData

from services.portal.backends import BackendError
from services.portal.listing_form import (
    FieldErrors,
    api_errors,
    column_line,
    listing_body,
    parse_columns,
)

LABEL = "Line {line}:"


def test_each_non_empty_line_is_a_column() -> None:
    errors = FieldErrors()
    columns = parse_columns(
        "a, string, attribute\n\nb, integer, sensitive, Income, in VND", errors, LABEL
    )
    assert not errors
    assert columns[1] == {
        "name": "b",
        "type": "integer",
        "classification": "sensitive",
        "description": "Income, in VND",
    }


def test_a_short_line_is_named() -> None:
    errors = FieldErrors()
    parse_columns("a, string, attribute\nb, integer", errors, LABEL)
    assert errors.by_field["columns"] == ["Line 2: name, type, classification"]


def test_a_catalog_error_on_a_column_lands_on_its_text_line() -> None:
    source = "a, string, attribute\n\nb, number, secret"
    assert column_line(source, 1) == 3
    refusal = BackendError(
        422,
        "invalid_request",
        "columns.1.classification: bad",
        field="columns.1.classification",
        errors=[
            {"field": "columns.1.classification", "message": "Input should be 'attribute'"},
            {"field": "title_vi", "message": "too short"},
        ],
    )
    errors = api_errors(refusal, source, LABEL)
    assert errors.by_field["columns"] == ["Line 3: Input should be 'attribute'"]
    assert errors.by_field["title_vi"] == ["too short"]


def test_usage_terms_reach_the_catalog_and_its_errors_come_back_to_their_field() -> None:
    form = FormData(
        [
            ("allowed_purposes", "research"),
            ("allowed_purposes", "education"),
            ("approval", "provider"),
            ("min_k", "10"),
            ("min_group_size", "many"),
            ("columns", "a, string, attribute"),
        ]
    )
    errors = FieldErrors()
    body = listing_body(form, errors, LABEL, "Enter a whole number.")
    assert body["allowed_purposes"] == ["research", "education"]
    assert body["approval"] == "provider" and body["min_k"] == 10
    assert body["buyer_may_terminate"] is False
    assert errors.by_field["min_group_size"] == ["Enter a whole number."]
    refusal = BackendError(
        422, "invalid_request", "bad", errors=[{"field": "allowed_purposes", "message": "empty"}]
    )
    assert api_errors(refusal, "", LABEL).by_field["allowed_purposes"] == ["empty"]
