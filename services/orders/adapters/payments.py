"""The payment port: what orders asks of a payment provider, whichever it is."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from services.orders.domain.model import Order, PaymentProvider

PaymentState = Literal["succeeded", "failed", "pending", "canceled"]


class PaymentAlreadyMade(Exception):
    """The payment cannot be cancelled: the money has already moved."""


class PaymentProviderError(Exception):
    """The provider refused or could not be reached; the caller may retry."""


@dataclass(frozen=True)
class Opening:
    """A payment the provider opened; ``reference`` is None when orders numbers it (invoices)."""

    reference: str | None
    client_secret: str | None = None
    #: Stripe Checkout: the page the buyer is sent to, to pay.
    checkout_url: str | None = None


class PaymentPort(Protocol):
    name: PaymentProvider
    offline: bool
    """True when opening a payment calls nobody (it may then run inside a transaction)."""

    def open_payment(self, order: Order) -> Opening: ...

    def payment_state(self, reference: str) -> PaymentState: ...

    def cancel_payment(self, order: Order) -> None: ...

    def refund(self, order: Order) -> str | None:
        """Start or finish the refund of a paid order; the refund's id once it is done."""
        ...
