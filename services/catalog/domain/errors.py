"""Domain errors of the catalog, each naming the field or line at fault."""

from __future__ import annotations

from collections.abc import Sequence


class CatalogError(Exception):
    """Base of catalog refusals."""

    def __init__(self, message: str, *, field: str | None = None, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.line = line


class InvalidListing(CatalogError):
    """Metadata or schema that breaks a rule (422)."""


class InvalidUpload(CatalogError):
    """A data file that does not match its listing (400)."""


class InvalidTransition(CatalogError):
    """A lifecycle change not allowed from the current state (409)."""


class InspectionBlocked(InvalidTransition):
    """Personal data found in columns not declared as direct identifiers (409).

    The provider must reclassify the column or upload a new version; it cannot waive it.
    """

    def __init__(self, findings: Sequence[object]) -> None:
        columns = sorted({str(getattr(f, "column", "?")) for f in findings})
        super().__init__(
            "publication blocked: personal data found in column(s) "
            + ", ".join(columns)
            + "; classify them as direct_identifier or upload a new version",
            field=columns[0] if columns else None,
        )
        self.findings = list(findings)
