"""Request-scoped access to the audit service's engine, tree and signing key."""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi import Request
from sqlalchemy import Engine

from streams.audit.tree import LedgerTree


@dataclass(frozen=True)
class AuditContext:
    """What the routes need: the database, the ledger's tree and its public key."""

    engine: Engine
    tree: LedgerTree
    public_key: Ed25519PublicKey
    feed_poll_s: float = 0.25


def audit_context(request: Request) -> AuditContext:
    context: AuditContext = request.app.state.audit
    return context
