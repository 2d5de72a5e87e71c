"""Tables of the orders database and the mapping to the order aggregate."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row, Table, bindparam, func
from sqlmodel import Field, Session, SQLModel, col, select

from services.contracts.catalog import ListingSnapshot
from services.orders.domain.model import Order, OrderStatus
from services.orders.domain.quote_terms import QuoteTerms
from services.orders.domain.settlement import LedgerLine


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime | None) -> datetime | None:
    """SQLite returns naive datetimes; every stored time is UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


class OrderRow(SQLModel, table=True):
    __tablename__ = "orders"

    id: str = Field(primary_key=True, max_length=36)
    buyer_org: str = Field(index=True, max_length=64)
    publisher_org: str = Field(max_length=64)
    quote_id: str = Field(unique=True, max_length=64)
    listing_id: str = Field(max_length=64)
    status: str = Field(index=True, max_length=20)
    provider: str = Field(max_length=10)
    total: int
    payment_key: str = Field(max_length=100)
    payment_ref: str | None = Field(default=None, index=True, max_length=100)
    client_secret: str | None = Field(default=None, max_length=200)
    checkout_url: str | None = Field(default=None, max_length=2000)
    placed_at: datetime = Field(index=True)
    payment_deadline: datetime
    paid_at: datetime | None = None
    closed_at: datetime | None = None
    reason: str | None = Field(default=None, max_length=500)
    grant_id: str | None = Field(default=None, max_length=64)
    renews_grant_id: str | None = Field(default=None, max_length=64)
    refund_ref: str | None = Field(default=None, max_length=100)
    refunded_at: datetime | None = None
    refund_amount: int | None = None
    policy_sha256: str | None = Field(default=None, max_length=64)
    approval: str = Field(default="automatic", max_length=10)
    decide_by: datetime | None = Field(default=None, index=True)
    decided_at: datetime | None = None
    decided_by: str | None = Field(default=None, max_length=64)
    decision_note: str | None = Field(default=None, max_length=2000)
    terms: str
    quote_document: str
    updated_at: datetime = Field(default_factory=_utcnow)


class IdempotencyRow(SQLModel, table=True):
    """A buyer's Idempotency-Key, the body it came with, and the order it made."""

    __tablename__ = "idempotency_keys"

    org: str = Field(primary_key=True, max_length=64)
    key: str = Field(primary_key=True, max_length=200)
    request_sha256: str = Field(max_length=64)
    order_id: str = Field(max_length=36)
    created_at: datetime = Field(default_factory=_utcnow)


class ListingRow(SQLModel, table=True):
    """A listing's latest public snapshot, learnt from ``catalog.listings``.

    Orders needs who publishes it, whether the publisher approves each order, and the
    facts its usage policy (ODRL offer) is rebuilt from to check what the buyer accepted.
    """

    __tablename__ = "order_listings"  # not "listings": the catalog has that table

    listing_id: str = Field(primary_key=True, max_length=64)
    org: str = Field(max_length=64)
    snapshot: str
    updated_at: datetime = Field(default_factory=_utcnow)


class InvoiceRow(SQLModel, table=True):
    """A local-provider invoice; its number makes the bank-transfer reference."""

    __tablename__ = "invoices"

    number: int | None = Field(default=None, primary_key=True)
    order_id: str = Field(unique=True, max_length=36)
    created_at: datetime = Field(default_factory=_utcnow)
    bank_reference: str | None = Field(default=None, max_length=200)
    settled_by: str | None = Field(default=None, max_length=200)


class StripeEventRow(SQLModel, table=True):
    """A Stripe webhook event already applied (deliveries repeat)."""

    __tablename__ = "stripe_events"

    event_id: str = Field(primary_key=True, max_length=100)
    event_type: str = Field(max_length=100)
    received_at: datetime = Field(default_factory=_utcnow)


class LedgerRow(SQLModel, table=True):
    """One signed line of the settlement ledger."""

    __tablename__ = "settlement_ledger"

    seq: int | None = Field(default=None, primary_key=True)
    order_id: str = Field(index=True, max_length=36)
    entry: str = Field(max_length=10)
    part: str = Field(max_length=20)
    party: str = Field(index=True, max_length=64)
    publisher_org: str = Field(index=True, max_length=64)
    amount: int
    month: str = Field(index=True, max_length=7)
    booked_at: datetime


ORDERS_TABLES: list[Table] = [
    OrderRow.__table__,  # type: ignore[attr-defined]
    IdempotencyRow.__table__,  # type: ignore[attr-defined]
    ListingRow.__table__,  # type: ignore[attr-defined]
    InvoiceRow.__table__,  # type: ignore[attr-defined]
    StripeEventRow.__table__,  # type: ignore[attr-defined]
    LedgerRow.__table__,  # type: ignore[attr-defined]
]


def _changing(order: Order) -> dict[str, Any]:
    """The columns that change over an order's life."""
    return {
        "status": order.status.value,
        "payment_ref": order.payment_ref,
        "client_secret": order.client_secret,
        "checkout_url": order.checkout_url,
        "paid_at": order.paid_at,
        "closed_at": order.closed_at,
        "reason": order.reason,
        "grant_id": order.grant_id,
        "refund_ref": order.refund_ref,
        "refunded_at": order.refunded_at,
        "refund_amount": order.refund_amount,
        "payment_deadline": order.payment_deadline,
        "decide_by": order.decide_by,
        "decided_at": order.decided_at,
        "decided_by": order.decided_by,
        "decision_note": order.decision_note,
        "updated_at": _utcnow(),
    }


def new_order_values(order: Order, quote_document: str) -> dict[str, Any]:
    """Every column of a new order's row."""
    return {
        "id": order.id,
        "buyer_org": order.buyer_org,
        "publisher_org": order.publisher_org,
        "quote_id": order.terms.id,
        "listing_id": order.terms.listing_id,
        "provider": order.provider,
        "total": order.total,
        "payment_key": order.payment_key,
        "placed_at": order.placed_at,
        "policy_sha256": order.policy_sha256,
        "renews_grant_id": order.renews_grant_id,
        "approval": order.approval,
        "terms": order.terms.model_dump_json(),
        "quote_document": quote_document,
        **_changing(order),
    }


def from_row(row: OrderRow | Row[Any]) -> Order:
    return Order(
        terms=QuoteTerms.model_validate_json(row.terms),
        publisher_org=row.publisher_org,
        provider="stripe" if row.provider == "stripe" else "local",
        placed_at=_aware(row.placed_at) or row.placed_at,
        payment_deadline=_aware(row.payment_deadline) or row.payment_deadline,
        id=row.id,
        status=OrderStatus(row.status),
        payment_key=row.payment_key,
        payment_ref=row.payment_ref,
        client_secret=row.client_secret,
        checkout_url=row.checkout_url,
        paid_at=_aware(row.paid_at),
        closed_at=_aware(row.closed_at),
        reason=row.reason,
        grant_id=row.grant_id,
        renews_grant_id=row.renews_grant_id,
        refund_ref=row.refund_ref,
        refunded_at=_aware(row.refunded_at),
        refund_amount=row.refund_amount,
        policy_sha256=row.policy_sha256,
        approval="provider" if row.approval == "provider" else "automatic",
        decide_by=_aware(row.decide_by),
        decided_at=_aware(row.decided_at),
        decided_by=row.decided_by,
        decision_note=row.decision_note,
    )


class OrderRepository:
    """Loads and saves orders within one session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, order_id: str, *, for_update: bool = False) -> Order | None:
        """The order as stored; ``for_update`` locks its row until the transaction ends."""
        statement = _LOCK_ORDER if for_update else _SELECT_ORDER
        row = self.session.connection().execute(statement, {"order_id": order_id}).first()
        return from_row(row) if row else None

    def by_quote(self, quote_id: str) -> Order | None:
        row = self.session.exec(select(OrderRow).where(OrderRow.quote_id == quote_id)).first()
        return from_row(row) if row else None

    def by_payment_ref(self, payment_ref: str) -> Order | None:
        row = self.session.exec(
            select(OrderRow).where(OrderRow.payment_ref == payment_ref).with_for_update()
        ).first()
        return from_row(row) if row else None

    def save(self, order: Order) -> None:
        """Write the columns that change over an order's life (one UPDATE)."""
        result = self.session.connection().execute(
            _UPDATE_ORDER, {"order_id": order.id, **_changing(order)}
        )
        assert result.rowcount == 1, f"save() is for stored orders, not {order.id}"

    def page(self, buyer_org: str | None, offset: int, limit: int) -> tuple[list[Order], int]:
        statement = select(OrderRow)
        counting = select(func.count()).select_from(OrderRow)
        if buyer_org is not None:
            statement = statement.where(OrderRow.buyer_org == buyer_org)
            counting = counting.where(OrderRow.buyer_org == buyer_org)
        statement = statement.order_by(col(OrderRow.placed_at).desc(), col(OrderRow.id))
        rows = self.session.exec(statement.offset(offset).limit(limit)).all()
        total = int(self.session.exec(counting).one())
        return [from_row(row) for row in rows], total

    def approvals_page(
        self, publisher_org: str | None, pending: bool | None, offset: int, limit: int
    ) -> tuple[list[Order], int]:
        """Orders of listings needing the publisher's approval: pending ones by deadline,
        the others (decided, or cancelled before a decision) newest first."""
        conditions: list[Any] = [OrderRow.approval == "provider"]
        if publisher_org is not None:
            conditions.append(OrderRow.publisher_org == publisher_org)
        waiting = OrderRow.status == OrderStatus.AWAITING_APPROVAL.value
        if pending is True:
            conditions.append(waiting)
        elif pending is False:
            conditions.append(OrderRow.status != OrderStatus.AWAITING_APPROVAL.value)
        statement = select(OrderRow).where(*conditions)
        if pending:
            statement = statement.order_by(col(OrderRow.decide_by), col(OrderRow.id))
        else:
            statement = statement.order_by(col(OrderRow.placed_at).desc(), col(OrderRow.id))
        rows = self.session.exec(statement.offset(offset).limit(limit)).all()
        counting = select(func.count()).select_from(OrderRow).where(*conditions)
        total = int(self.session.exec(counting).one())
        return [from_row(row) for row in rows], total

    def without_payment(self) -> list[str]:
        """Orders to be paid online whose payment was never opened (a crash, an outage)."""
        statement = select(OrderRow.id).where(
            col(OrderRow.status).in_(
                [OrderStatus.PLACED.value, OrderStatus.AWAITING_PAYMENT.value]
            ),
            col(OrderRow.payment_ref).is_(None),
        )
        return list(self.session.exec(statement).all())

    def undecided_past(self, now: datetime) -> list[str]:
        """Requests still awaiting approval whose deadline has passed."""
        statement = select(OrderRow.id).where(
            OrderRow.status == OrderStatus.AWAITING_APPROVAL.value,
            col(OrderRow.decide_by) <= now,
        )
        return list(self.session.exec(statement).all())

    def ids_in(self, statuses: list[OrderStatus], provider: str | None = None) -> list[str]:
        statement = select(OrderRow.id).where(col(OrderRow.status).in_([s.value for s in statuses]))
        if provider is not None:
            statement = statement.where(OrderRow.provider == provider)
        return list(self.session.exec(statement).all())

    def overdue_ids(self, now: datetime) -> list[str]:
        statement = select(OrderRow.id).where(
            col(OrderRow.status).in_(["placed", "awaiting_payment", "payment_failed"]),
            col(OrderRow.payment_deadline) <= now,
        )
        return list(self.session.exec(statement).all())


# The hot path of placing an order runs these prepared Core statements on the session's
# connection: parameters at execute time keep SQLAlchemy's compiled cache warm and skip
# the ORM's per-value coercion, which cost more than SQLite itself.
_ORDERS = OrderRow.__table__  # type: ignore[attr-defined]
_KEYS = IdempotencyRow.__table__  # type: ignore[attr-defined]
_LISTINGS = ListingRow.__table__  # type: ignore[attr-defined]
_LEDGER = LedgerRow.__table__  # type: ignore[attr-defined]
_INVOICES = InvoiceRow.__table__  # type: ignore[attr-defined]
_SELECT_ORDER = select(_ORDERS).where(_ORDERS.c.id == bindparam("order_id"))
_LOCK_ORDER = _SELECT_ORDER.with_for_update()
_UPDATE_ORDER = _ORDERS.update().where(_ORDERS.c.id == bindparam("order_id"))
_SETTLE_INVOICE = (
    _INVOICES.update()
    .where(_INVOICES.c.order_id == bindparam("invoice_order_id"))
    .values(bank_reference=bindparam("bank_reference"), settled_by=bindparam("settled_by"))
)
_INSERT_LEDGER = _LEDGER.insert()
_SELECT_LISTING = select(_LISTINGS.c.snapshot).where(
    _LISTINGS.c.listing_id == bindparam("listing_id")
)
_SELECT_KEY = select(_KEYS.c.request_sha256, _KEYS.c.order_id).where(
    _KEYS.c.org == bindparam("org"), _KEYS.c.key == bindparam("key")
)


def listing_document(session: Session, listing_id: str) -> str | None:
    """The stored JSON of the latest snapshot of a listing orders has learnt about, if any."""
    row = session.connection().execute(_SELECT_LISTING, {"listing_id": listing_id}).first()
    return str(row[0]) if row else None


def idempotency_record(session: Session, org: str, key: str) -> tuple[str, str] | None:
    """(request digest, order id) stored for a buyer's Idempotency-Key, if any."""
    row = session.connection().execute(_SELECT_KEY, {"org": org, "key": key}).first()
    return (str(row[0]), str(row[1])) if row else None


def insert_new_order(
    session: Session, order: Order, quote_document: str, org: str, key: str, digest: str
) -> None:
    """Insert a new order and the key that made it (IntegrityError if either exists)."""
    connection = session.connection()
    connection.execute(_KEYS.insert(), idempotency_values(org, key, digest, order.id))
    connection.execute(_ORDERS.insert(), new_order_values(order, quote_document))


def idempotency_values(org: str, key: str, digest: str, order_id: str) -> dict[str, Any]:
    return {
        "org": org,
        "key": key,
        "request_sha256": digest,
        "order_id": order_id,
        "created_at": _utcnow(),
    }


def listing_snapshots(session: Session, listing_ids: list[str]) -> dict[str, str]:
    """The stored snapshot JSON of each of these listings, by id."""
    rows = session.exec(
        select(ListingRow.listing_id, ListingRow.snapshot).where(
            col(ListingRow.listing_id).in_(listing_ids)
        )
    ).all()
    return {str(listing_id): str(snapshot) for listing_id, snapshot in rows}


def remember_listing(session: Session, listing: ListingSnapshot) -> None:
    """Keep the listing's latest snapshot (a redelivered event writes the same facts)."""
    document = listing.model_dump_json()
    row = session.get(ListingRow, listing.listing_id)
    if row is None:
        session.add(ListingRow(listing_id=listing.listing_id, org=listing.org, snapshot=document))
    elif row.snapshot != document:
        row.org = listing.org
        row.snapshot = document
        row.updated_at = _utcnow()
        session.add(row)


def book(session: Session, lines: list[LedgerLine]) -> None:
    """Insert ledger lines in the session's transaction (one multi-row INSERT)."""
    if not lines:
        return
    session.connection().execute(
        _INSERT_LEDGER,
        [
            {
                "order_id": line.order_id,
                "entry": line.entry,
                "part": line.part,
                "party": line.party,
                "publisher_org": line.publisher_org,
                "amount": line.amount,
                "month": line.month,
                "booked_at": line.booked_at,
            }
            for line in lines
        ],
    )


def record_settlement(
    session: Session, order_id: str, bank_reference: str | None, settled_by: str
) -> None:
    """Note on the order's local invoice (if it has one) who settled it and the transfer."""
    session.connection().execute(
        _SETTLE_INVOICE,
        {"invoice_order_id": order_id, "bank_reference": bank_reference, "settled_by": settled_by},
    )


def sale_lines_of(session: Session, order_id: str) -> list[LedgerLine]:
    rows = session.exec(
        select(LedgerRow).where(LedgerRow.order_id == order_id, LedgerRow.entry == "sale")
    ).all()
    return [
        LedgerLine(
            order_id=row.order_id,
            entry="sale",
            part=row.part,  # type: ignore[arg-type]
            party=row.party,
            publisher_org=row.publisher_org,
            amount=row.amount,
            booked_at=_aware(row.booked_at) or row.booked_at,
        )
        for row in rows
    ]
