"""docs/pricing.md shows what the engine computes, and documents every policy field."""

from __future__ import annotations

from pathlib import Path

from services.pricing.domain import Policy

from .worked_example import END, START, render, worked_quote

DOC = Path(__file__).resolve().parents[3] / "docs" / "pricing.md"
README = Path(__file__).resolve().parents[3] / "README.md"


def test_the_worked_example_in_the_docs_is_what_the_engine_computes() -> None:
    text = DOC.read_text(encoding="utf-8")

    documented = text[text.index(START) : text.index(END) + len(END)]

    assert documented == render()


def test_the_readme_shows_the_same_worked_example() -> None:
    text = README.read_text(encoding="utf-8")

    documented = text[text.index(START) : text.index(END) + len(END)]

    assert documented == render()


def test_the_worked_example_exercises_discounts_rounding_and_the_split() -> None:
    quote = worked_quote()
    codes = {line.code for line in quote.lines}

    assert {"discount.segment", "discount.loyalty", "rounding", "protection"} <= codes
    assert any(code.startswith("discount.promotion.") for code in codes)


def _field_names(model: type[Policy]) -> set[str]:
    names: set[str] = set()
    stack: list[type] = [model]
    while stack:
        current = stack.pop()
        for name, info in getattr(current, "model_fields", {}).items():
            names.add(name)
            annotation = info.annotation
            for candidate in (annotation, *getattr(annotation, "__args__", ())):
                if hasattr(candidate, "model_fields"):
                    stack.append(candidate)
    return names


def test_every_policy_field_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")

    undocumented = sorted(name for name in _field_names(Policy) if name not in text)

    assert undocumented == []
