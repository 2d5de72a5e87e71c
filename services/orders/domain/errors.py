"""Typed refusals of the orders domain, each naming the field at fault where there is one."""

from __future__ import annotations


class OrdersError(Exception):
    """Base of orders refusals."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidTransition(OrdersError):
    """A state change not allowed from the order's current state (409)."""


class QuoteRejected(OrdersError):
    """A quote that cannot become an order: bad signature, expired, malformed (422)."""


class QuoteNotYours(OrdersError):
    """A quote issued to another organisation (403)."""


class Conflict(OrdersError):
    """A request that clashes with what exists: a reused key, a second order for a quote (409)."""


class ListingNotKnown(OrdersError):
    """The quote's listing has not reached orders yet from the catalog's events (409, retry)."""


class PolicyNotAccepted(OrdersError):
    """``accept_policy`` missing or not the hash of the listing's current usage policy (409)."""


class PurposeNotAllowed(OrdersError):
    """The quote's purpose is not one the listing allows (422)."""
