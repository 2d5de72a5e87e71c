"""The personal-data scan a dataset version must pass before it can be published.

Every column not classified ``direct_identifier`` is checked, on a sample of its values, for
Vietnamese identifiers and contact data; a kind found in more than ``threshold`` of a column's
non-empty values is a finding, and any finding fails the report.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from services.catalog.domain.vn_identifiers import (
    CMND_PREFIXES,
    KIND_PRECEDENCE,
    PiiKind,
    mask,
    matching_kinds,
)

DIRECT_IDENTIFIER = "direct_identifier"
DEFAULT_THRESHOLD = 0.2
MAX_EXAMPLES = 3
# Distinct values kept per kind to draw examples from; masks often coincide.
_EXAMPLE_CANDIDATES = 50
# Share of a column's 9-digit values outside the CMND prefixes (01-38) beyond which, with no
# value zero-padded, the column reads as amounts or counts rather than identity numbers.
_NUMBERS_NOT_CMND_SHARE = 0.2


@dataclass(frozen=True)
class ColumnSample:
    """Values read from one column; ``classification`` is the provider's declared class."""

    name: str
    classification: str
    values: Sequence[str | None]


@dataclass(frozen=True)
class Finding:
    """One kind of personal data found in one column; ``examples`` are masked."""

    column: str
    pattern: PiiKind
    share: float
    matched: int
    non_empty: int
    examples: list[str]


@dataclass(frozen=True)
class InspectionReport:
    """Findings ordered by share, largest first; ``passed`` only when there are none."""

    findings: tuple[Finding, ...]
    columns_scanned: tuple[str, ...]
    rows_sampled: int
    passed: bool


def inspect(
    samples: Iterable[ColumnSample], threshold: float = DEFAULT_THRESHOLD
) -> InspectionReport:
    """Scan every sample whose column is not a declared direct identifier."""
    if not 0.0 <= threshold < 1.0:
        raise ValueError(f"threshold must be in [0, 1), got {threshold}")
    findings: list[Finding] = []
    scanned: list[str] = []
    rows_sampled = 0
    for sample in samples:
        if sample.classification == DIRECT_IDENTIFIER:
            continue
        scanned.append(sample.name)
        rows_sampled = max(rows_sampled, len(sample.values))
        findings.extend(scan_column(sample.name, sample.values, threshold))
    findings.sort(key=lambda f: (-f.share, f.column, KIND_PRECEDENCE.index(f.pattern)))
    return InspectionReport(
        findings=tuple(findings),
        columns_scanned=tuple(scanned),
        rows_sampled=rows_sampled,
        passed=not findings,
    )


def scan_column(
    column: str, values: Iterable[str | None], threshold: float = DEFAULT_THRESHOLD
) -> list[Finding]:
    """Findings for one column, at most one per kind.

    A value that fits several kinds (``0312345678`` is a mobile number and could be a Hồ Chí
    Minh City tax code) counts once, for the kind most of the column's values fit, so that
    one column of phone numbers is not also reported as tax codes.
    """
    counts = _non_empty_counts(values)
    non_empty = counts.total()
    if non_empty == 0:
        return []
    not_cmnd = _reads_as_quantities(counts)
    # Values are tallied by the set of kinds they fit: few sets, many values.
    tally: dict[frozenset[PiiKind], int] = {}
    candidates: dict[frozenset[PiiKind], list[tuple[int, str]]] = {}
    for position, (value, count) in enumerate(counts.items()):
        kinds = matching_kinds(value)
        if not_cmnd and PiiKind.CMND in kinds:
            kinds = kinds - {PiiKind.CMND}
        if kinds:
            tally[kinds] = tally.get(kinds, 0) + count
            seen = candidates.setdefault(kinds, [])
            if len(seen) < _EXAMPLE_CANDIDATES:
                seen.append((position, value))

    fits: Counter[PiiKind] = Counter()
    for kinds, count in tally.items():
        for kind in kinds:
            fits[kind] += count
    preference = sorted(fits, key=lambda k: (-fits[k], KIND_PRECEDENCE.index(k)))

    matched: Counter[PiiKind] = Counter()
    pool: dict[PiiKind, list[tuple[int, str]]] = {kind: [] for kind in preference}
    for kinds, count in tally.items():
        kind = next(k for k in preference if k in kinds)
        matched[kind] += count
        pool[kind].extend(candidates[kinds])

    return [
        Finding(
            column=column,
            pattern=kind,
            share=matched[kind] / non_empty,
            matched=matched[kind],
            non_empty=non_empty,
            examples=_masked_examples(kind, pool[kind]),
        )
        for kind in preference
        if matched[kind] / non_empty > threshold
    ]


def _reads_as_quantities(counts: Counter[str]) -> bool:
    """Whether a column's 9-digit values are magnitudes (đồng, people) rather than CMNDs.

    A CMND's first two digits are its issuing province, 01 to 38, and written as text the
    numbers of Hà Nội (01) and Hồ Chí Minh City (02) keep their leading zero. A column of
    amounts never has a leading zero, and its hundreds of millions spread over every leading
    pair 10-99: when no 9-digit value starts with 0 and many fall outside 01-38, the ones
    inside are chance, not identity numbers.
    """
    nine_digit = zero_padded = outside_prefixes = 0
    for value, count in counts.items():
        if len(value) == 9 and value.isascii() and value.isdigit():
            nine_digit += count
            if value[0] == "0":
                zero_padded += count
            elif value[:2] not in CMND_PREFIXES:
                outside_prefixes += count
    return (
        nine_digit > 0
        and zero_padded == 0
        and outside_prefixes > _NUMBERS_NOT_CMND_SHARE * nine_digit
    )


def _non_empty_counts(values: Iterable[str | None]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for raw, count in Counter(values).items():
        if raw is not None and (value := raw.strip()):
            counts[value] += count
    return counts


def _masked_examples(kind: PiiKind, candidates: list[tuple[int, str]]) -> list[str]:
    """Up to ``MAX_EXAMPLES`` distinct masked values, earliest in the sample first."""
    examples: list[str] = []
    for _, value in sorted(candidates):
        masked = mask(value, kind)
        if masked not in examples:
            examples.append(masked)
            if len(examples) == MAX_EXAMPLES:
                break
    return examples
