"""The local provider: invoices paid by bank transfer, settled by an operator; waivers.

Nothing leaves the process: an invoice's reference is numbered by the orders database,
and a refund is recorded at once (the transfer back is made by the operator's bank).
"""

from __future__ import annotations

from services.orders.adapters.payments import Opening, PaymentState
from services.orders.domain.model import Order, PaymentProvider


class LocalPayments:
    name: PaymentProvider = "local"
    offline = True

    def open_payment(self, order: Order) -> Opening:
        return Opening(reference=None)

    def payment_state(self, reference: str) -> PaymentState:
        return "pending"

    def cancel_payment(self, order: Order) -> None:
        return None

    def refund(self, order: Order) -> str | None:
        return f"local-refund-{order.id}"
