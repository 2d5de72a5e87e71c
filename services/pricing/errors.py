"""Refusals of the pricing service's use cases, mapped to HTTP statuses by the API."""

from __future__ import annotations

from typing import Any


class Refused(Exception):
    """A request the service will not carry out: status, stable code, the field at fault."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        field: str | None = None,
        line: int | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.line = line
        self.extra = extra
