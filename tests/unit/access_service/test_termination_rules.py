"""Who may end a grant early with which refund, and what the grant reports when it does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.access.domain.grant import Grant, GrantError, GrantGone, MeasuredPrivacy
from services.access.domain.termination import (
    TerminationRefused,
    check_termination,
    party_of,
)

NOW = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
FIGURES = MeasuredPrivacy(k=5, l_diversity=2, suppression_share=0.0, information_loss=0.2)


def _grant(days: int = 30) -> Grant:
    return Grant(
        id="g",
        order_id="o",
        listing_id="l",
        listing_version=1,
        publisher_org="agency",
        buyer_org="startup",
        product="download",
        duration_days=days,
        created_at=NOW,
    )


@pytest.mark.parametrize(
    ("org", "role", "party"),
    [
        ("mic", "regulator", "overseer"),
        ("vndx-ops", "operator", "overseer"),
        ("agency", "provider", "publisher"),
        ("startup", "buyer", "buyer"),
        ("agency", "buyer", None),  # the publisher acts for a breach in its provider role
        ("someone", "provider", None),
        ("someone", "buyer", None),
    ],
)
def test_the_callers_standing(org: str, role: str, party: str | None) -> None:
    assert party_of(org, role, "agency", "startup") == party


@pytest.mark.parametrize(
    ("party", "allowed"),
    [
        ("overseer", {"none", "pro_rata", "full"}),
        ("publisher", {"none"}),
        ("buyer", {"pro_rata"}),
    ],
)
def test_each_party_has_its_refunds(party: str, allowed: set[str]) -> None:
    for refund in ("none", "pro_rata", "full"):
        if refund in allowed:
            check_termination(party, refund, buyer_may_terminate=True)  # type: ignore[arg-type]
        else:
            with pytest.raises(TerminationRefused) as refused:
                check_termination(party, refund, buyer_may_terminate=True)  # type: ignore[arg-type]
            assert refused.value.field == "refund" and repr(refund) in refused.value.message


def test_a_buyer_may_not_terminate_when_the_policy_says_so() -> None:
    with pytest.raises(TerminationRefused) as refused:
        check_termination("buyer", "pro_rata", buyer_may_terminate=False)
    assert refused.value.code == "buyer_may_not_terminate"
    check_termination("overseer", "full", buyer_may_terminate=False)


def test_terminating_an_issued_grant_reports_the_time_left() -> None:
    grant = _grant(days=30)
    grant.issue(FIGURES, 10, [], NOW)
    remaining, period = grant.terminate("breach", NOW + timedelta(days=10))
    assert (remaining, period) == (20 * 86_400, 30 * 86_400)
    assert grant.status == "terminated" and grant.reason == "breach"
    with pytest.raises(GrantGone):
        grant.check_usable(NOW + timedelta(days=11))


def test_a_pending_grant_has_its_whole_period_left() -> None:
    assert _grant(days=7).terminate("legal order", NOW) == (7 * 86_400, 7 * 86_400)


def test_an_ended_or_failed_grant_cannot_be_terminated() -> None:
    expired = _grant(days=1)
    expired.issue(FIGURES, 10, [], NOW)
    with pytest.raises(GrantGone):
        expired.terminate("late", NOW + timedelta(days=2))  # due, not yet swept
    for close in (lambda g: g.revoke("r"), lambda g: g.terminate("t", NOW)):
        grant = _grant()
        close(grant)
        with pytest.raises(GrantGone):
            grant.terminate("again", NOW)
    failed = _grant()
    failed.fail("k unreachable")
    with pytest.raises(GrantError):
        failed.terminate("nothing", NOW)
