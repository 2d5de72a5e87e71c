"""Access domain: column rules, privacy targets and figures, pseudonym keys (no I/O)."""

from services.access.domain.columns import (
    AdminLevel,
    Classification,
    ColumnRule,
    ColumnType,
    DateTruncation,
    GeneralisationHint,
    HierarchyTable,
    NumericBands,
    Suppress,
    validate_column_rules,
)
from services.access.domain.errors import AnonymisationFailed, FailureReason
from services.access.domain.privacy import PrivacyFigures, PrivacyTargets
from services.access.domain.pseudonyms import PSEUDONYM_BYTES, derive_grant_key, pseudonym_of

__all__ = [
    "PSEUDONYM_BYTES",
    "AdminLevel",
    "AnonymisationFailed",
    "Classification",
    "ColumnRule",
    "ColumnType",
    "DateTruncation",
    "FailureReason",
    "GeneralisationHint",
    "HierarchyTable",
    "NumericBands",
    "PrivacyFigures",
    "PrivacyTargets",
    "Suppress",
    "derive_grant_key",
    "pseudonym_of",
    "validate_column_rules",
]
