"""Use cases of policies: validate, activate (with its event), read, and the default.

A version is activated once: the same text again is a no-op, other text under the same
version is a conflict. A policy never takes effect before it was activated, so quotes
already issued are never re-explained by a later policy.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from services.common.db import reading, transaction
from services.common.outbox import add_event
from services.contracts.pricing import PolicyActivated
from services.pricing import policy_book
from services.pricing.adapters.orm import PolicyVersionRow, aware
from services.pricing.context import SOURCE, PricingContext
from services.pricing.domain import DEFAULT_POLICY_PATH, Policy, PolicyError, load_policy
from services.pricing.errors import Refused

log = logging.getLogger(__name__)

DEFAULT_ACTIVATOR = "vndx:default-policy"


def parse_or_refuse(text: str) -> Policy:
    """The policy in ``text``, or a 422 listing every issue with its field and line."""
    try:
        return load_policy(text)
    except PolicyError as error:
        issues = [
            {"field": issue.field_path or "policy", "line": issue.line, "message": issue.message}
            for issue in error.issues
        ]
        first = error.issues[0]
        raise Refused(
            422,
            "invalid_policy",
            f"{first.field_path or 'policy'} (line {first.line}): {first.message}",
            field=first.field_path or "policy",
            line=first.line,
            issues=issues,
        ) from error


def activate_policy(
    ctx: PricingContext, text: str, activated_by: str, at: datetime | None = None
) -> tuple[dict[str, Any], bool]:
    """Store and announce a policy version; return its view and whether it is new."""
    policy = parse_or_refuse(text)
    now = ctx.clock()
    if at is not None and at < policy.effective_from:
        raise Refused(
            422,
            "invalid_request",
            f"effective_from {at.isoformat()} is before the policy's own "
            f"effective_from {policy.effective_from.isoformat()}",
            field="effective_from",
        )
    effective_from = max(at or policy.effective_from, now)
    digest = policy_book.sha256_hex(text)
    try:
        with transaction(ctx.engine) as session:
            existing = policy_book.find_version(session, policy.version)
            if existing is not None:
                return _already_there(ctx, existing, digest), False
            row = PolicyVersionRow(
                version=policy.version,
                text=text,
                sha256=digest,
                effective_from=effective_from,
                activated_at=now,
                activated_by=activated_by,
            )
            session.add(row)
            add_event(
                session,
                PolicyActivated(
                    version=policy.version,
                    effective_from=effective_from,
                    sha256=digest,
                    activated_by=activated_by,
                ),
                source=SOURCE,
            )
    except IntegrityError:  # another process activated the same version meanwhile
        with reading(ctx.engine) as session:
            existing = policy_book.find_version(session, policy.version)
        if existing is None:
            raise
        return _already_there(ctx, existing, digest), False
    ctx.lookups.forget_policies()
    ctx.wake_relay()
    return policy_book.row_view(row, policy), True


def _already_there(ctx: PricingContext, existing: PolicyVersionRow, digest: str) -> dict[str, Any]:
    if existing.sha256 != digest:
        raise Refused(
            409,
            "conflict",
            f"policy version {existing.version!r} is already active with other content "
            f"(sha256 {existing.sha256}); give the new policy a new version",
            field="version",
        )
    return policy_book.row_view(existing, ctx.policies.parsed(existing))


def ensure_default_policy(ctx: PricingContext) -> None:
    """On first start, activate the shipped default policy if no policy exists."""
    with reading(ctx.engine) as session:
        if policy_book.has_any(session):
            return
    text = DEFAULT_POLICY_PATH.read_text(encoding="utf-8")
    _, created = activate_policy(ctx, text, DEFAULT_ACTIVATOR)
    if created:
        log.info("activated the default pricing policy")


def policy_version(ctx: PricingContext, version: str) -> dict[str, Any]:
    with reading(ctx.engine) as session:
        row = policy_book.find_version(session, version)
    if row is None:
        raise Refused(404, "not_found", f"policy version {version!r} not found", field="version")
    return policy_book.row_view(row, ctx.policies.parsed(row))


def active_policy(ctx: PricingContext) -> dict[str, Any]:
    with reading(ctx.engine) as session:
        row = policy_book.in_effect(session, ctx.clock())
    if row is None:
        raise Refused(404, "not_found", "no pricing policy is in effect")
    return policy_book.row_view(row, ctx.policies.parsed(row))


def policy_versions(ctx: PricingContext) -> list[dict[str, Any]]:
    """Every version, oldest effective first, without the YAML text."""
    with reading(ctx.engine) as session:
        rows = policy_book.all_versions(session)
    now = ctx.clock()
    current = max(
        (row for row in rows if aware(row.effective_from) <= now),
        key=lambda row: (aware(row.effective_from), aware(row.activated_at)),
        default=None,
    )
    return [
        {
            **policy_book.row_view(row, ctx.policies.parsed(row), with_text=False),
            "in_effect": row is current,
        }
        for row in rows
    ]
