"""The extract recipe's fingerprint and the bounded in-memory cache of built extracts."""

from __future__ import annotations

from services.access.adapters.extract_cache import CachedExtract, ExtractCache, recipe_fingerprint
from services.access.domain import PrivacyTargets
from services.access.domain.columns import ColumnRule, NumericBands
from services.access.domain.listing_rules import BuildPlan
from services.access.domain.privacy import PrivacyFigures

AGE = ColumnRule(name="age", classification="quasi_identifier", hint=NumericBands(widths=(5, 10)))
INCOME = ColumnRule(name="income", classification="sensitive")
PLAN = BuildPlan([AGE, INCOME])
TARGETS = PrivacyTargets(k=5, l=2, max_suppression=0.05)


def _entry(size: int) -> CachedExtract:
    figures = PrivacyFigures(k=5, l=2, suppression_share=0.0, information_loss=0.1, levels={})
    return CachedExtract(10, 10, figures, (), b"p" * (size // 2), b"c" * (size - size // 2))


def test_the_same_recipe_has_the_same_fingerprint() -> None:
    again = BuildPlan([AGE.model_copy(), INCOME.model_copy()])
    assert recipe_fingerprint("raw/a/1/data.csv", "csv", PLAN, TARGETS) == recipe_fingerprint(
        "raw/a/1/data.csv", "csv", again, TARGETS.model_copy()
    )


def test_anything_that_shapes_the_extract_changes_the_fingerprint() -> None:
    base = recipe_fingerprint("raw/a/1/data.csv", "csv", PLAN, TARGETS)
    variants = [
        recipe_fingerprint("raw/a/2/data.csv", "csv", PLAN, TARGETS),
        recipe_fingerprint("raw/a/1/data.csv", "parquet", PLAN, TARGETS),
        recipe_fingerprint("raw/a/1/data.csv", "csv", BuildPlan([INCOME, AGE]), TARGETS),
        recipe_fingerprint(
            "raw/a/1/data.csv",
            "csv",
            BuildPlan([AGE.model_copy(update={"hint": NumericBands(widths=(5, 20))}), INCOME]),
            TARGETS,
        ),
        recipe_fingerprint(
            "raw/a/1/data.csv", "csv", BuildPlan([AGE, INCOME], {"x": [["a"]]}), TARGETS
        ),
        recipe_fingerprint("raw/a/1/data.csv", "csv", PLAN, TARGETS.model_copy(update={"k": 10})),
        recipe_fingerprint("raw/a/1/data.csv", "csv", PLAN, TARGETS.model_copy(update={"l": 3})),
        recipe_fingerprint(
            "raw/a/1/data.csv", "csv", PLAN, TARGETS.model_copy(update={"max_suppression": 0.1})
        ),
    ]
    assert base is not None and None not in variants
    assert len({base, *variants}) == 1 + len(variants)


def test_a_recipe_with_pseudonyms_is_never_shared() -> None:
    kept = ColumnRule(name="id", classification="direct_identifier", keep_as_pseudonym=True)
    assert recipe_fingerprint("raw/a/1/data.csv", "csv", BuildPlan([kept, AGE]), TARGETS) is None


def test_the_cache_drops_the_least_recently_used_beyond_its_bound() -> None:
    cache = ExtractCache(max_bytes=300, max_entry_bytes=120)
    for name in ("a", "b", "c"):
        cache.put(name, _entry(100))
    assert cache.get("a") is not None  # now b is the least recently used
    cache.put("d", _entry(100))
    assert [n for n in "abcd" if cache.get(n) is not None] == ["a", "c", "d"]
    assert cache.total_bytes == 300


def test_an_extract_above_the_entry_limit_is_not_kept() -> None:
    cache = ExtractCache(max_bytes=1000, max_entry_bytes=120)
    cache.put("big", _entry(121))
    assert cache.get("big") is None and cache.total_bytes == 0


def test_a_zero_bound_disables_the_cache() -> None:
    for cache in (ExtractCache(0, 8), ExtractCache(64, 0)):
        cache.put("a", _entry(1))
        assert not cache.enabled and cache.get("a") is None
