"""The grant's life: issue, expire, revoke, renew, and what a buyer may do in each state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.access.domain.grant import (
    Grant,
    GrantError,
    GrantGone,
    GrantNotReady,
    MeasuredPrivacy,
    WrongProduct,
)

NOW = datetime(2025, 7, 1, 8, 0, tzinfo=UTC)
FIGURES = MeasuredPrivacy(k=5, l_diversity=2, suppression_share=0.01, information_loss=0.3)


def _grant(product: str = "download", days: int = 30) -> Grant:
    return Grant(
        id="g",
        order_id="o",
        listing_id="l",
        listing_version=1,
        publisher_org="p",
        buyer_org="b",
        product=product,  # type: ignore[arg-type]
        duration_days=days,
        created_at=NOW,
    )


def _issued(**kw: object) -> Grant:
    grant = _grant(**kw)  # type: ignore[arg-type]
    grant.issue(FIGURES, 100, ["sandbox/g/extract.parquet"], NOW)
    return grant


def test_an_issued_grant_runs_for_its_duration_from_issue() -> None:
    grant = _issued(days=30)
    assert grant.expires_at == NOW + timedelta(days=30)
    grant.check_usable(NOW + timedelta(days=29))
    with pytest.raises(GrantGone):
        grant.check_usable(NOW + timedelta(days=30))


def test_a_url_lives_15_minutes_at_most_and_never_past_expiry() -> None:
    grant = _issued(days=1)
    assert grant.url_lifetime(NOW) == timedelta(minutes=15)
    last_minutes = NOW + timedelta(days=1) - timedelta(minutes=4)
    assert grant.url_lifetime(last_minutes) == timedelta(minutes=4)


def test_a_pending_or_failed_grant_is_not_ready() -> None:
    grant = _grant()
    with pytest.raises(GrantNotReady):
        grant.check_usable(NOW)
    grant.fail("targets_unreachable: ℓ=1 < 2")
    with pytest.raises(GrantNotReady, match="targets_unreachable"):
        grant.check_usable(NOW)
    with pytest.raises(GrantError):
        grant.issue(FIGURES, 1, [], NOW)


def test_products_do_not_mix() -> None:
    with pytest.raises(WrongProduct):
        _issued(product="sandbox").url_lifetime(NOW)
    with pytest.raises(WrongProduct):
        _issued(product="download").check_usable(NOW, "sandbox")


def test_revoked_and_expired_grants_are_gone_for_good() -> None:
    revoked = _issued()
    revoked.revoke("breach")
    with pytest.raises(GrantGone, match="revoked"):
        revoked.check_usable(NOW)
    with pytest.raises(GrantGone):
        revoked.revoke("again")
    expired = _issued(days=1)
    assert not expired.is_due(NOW)
    with pytest.raises(GrantError):
        expired.expire(NOW)
    expired.expire(NOW + timedelta(days=1))
    assert expired.status == "expired"
    with pytest.raises(GrantGone):
        expired.renew(10, NOW)


def test_renewal_extends_from_expiry() -> None:
    grant = _issued(days=30)
    assert grant.renew(10, NOW + timedelta(days=5)) == NOW + timedelta(days=40)
