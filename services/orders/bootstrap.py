"""Composition root: which payment provider, which quote key, which runtime."""

from __future__ import annotations

import contextlib
import threading
from datetime import timedelta
from pathlib import Path

from services.common.db import is_sqlite
from services.common.runtime import ServiceRuntime
from services.common.settings import Settings
from services.common.signed_json import SignedJsonVerifier
from services.orders.adapters.local_payments import LocalPayments
from services.orders.adapters.orm import ORDERS_TABLES
from services.orders.adapters.payments import PaymentPort
from services.orders.adapters.stripe_gateway import StripeGateway
from services.orders.consumers import consumer_specs
from services.orders.handlers import ListingTerms, OrdersContext

#: This service's Alembic revisions.
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def payment_port(settings: Settings) -> PaymentPort:
    """Stripe when a secret key is set; otherwise the local provider (invoices, waivers)."""
    if settings.stripe_secret_key is not None and settings.stripe_secret_key.get_secret_value():
        return StripeGateway(
            settings.stripe_secret_key.get_secret_value(),
            settings.stripe_api_base,
            checkout_return_url=settings.stripe_checkout_return_url,
        )
    return LocalPayments()


def build(settings: Settings) -> tuple[ServiceRuntime, OrdersContext]:
    payments = payment_port(settings)
    listings: dict[str, ListingTerms] = {}

    def forget(listing_id: str) -> None:
        listings.pop(listing_id, None)

    runtime = ServiceRuntime(
        settings, ORDERS_TABLES, consumer_specs(payments, forget), migrations=MIGRATIONS
    )
    ctx = OrdersContext(
        engine=runtime.engine,
        payments=payments,
        quote_verifier=SignedJsonVerifier(settings.key_path("quote", "public").read_bytes()),
        payment_window=timedelta(seconds=settings.order_payment_deadline_s),
        wake_relay=runtime.relay.wake,
        fault=runtime.faults.maybe_crash,
        lock=threading.Lock() if is_sqlite(runtime.engine) else contextlib.nullcontext(),
        iri_base=settings.iri_base,
        approval_working_days=settings.order_approval_working_days,
        listings=listings,
    )
    return runtime, ctx
