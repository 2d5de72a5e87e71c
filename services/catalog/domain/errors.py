"""Domain errors of the catalog, each naming the field or line at fault."""

from __future__ import annotations


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
