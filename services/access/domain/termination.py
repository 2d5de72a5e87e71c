"""Who may end a grant early, and with which refund.

- a regulator or operator, for a legal order: any refund;
- the publishing organisation (provider role), for a breach: refund ``none`` only;
- the buyer, its own grant: ``pro_rata`` only, and only if the listing's usage
  policy lets buyers terminate.

Anyone else does not see the grant at all (the caller answers 404). Pure rules.
"""

from __future__ import annotations

from typing import Literal

Refund = Literal["none", "pro_rata", "full"]
Party = Literal["overseer", "publisher", "buyer"]
OVERSEER_ROLES = ("regulator", "operator")
REFUNDS_OF: dict[Party, tuple[Refund, ...]] = {
    "overseer": ("none", "pro_rata", "full"),
    "publisher": ("none",),
    "buyer": ("pro_rata",),
}


class TerminationRefused(Exception):
    """The caller sees the grant but may not terminate it this way (HTTP 403)."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


def party_of(caller_org: str, caller_role: str, publisher_org: str, buyer_org: str) -> Party | None:
    """The caller's standing towards a grant; None when it may not even see the grant."""
    if caller_role in OVERSEER_ROLES:
        return "overseer"
    if caller_org == publisher_org and caller_role == "provider":
        return "publisher"
    if caller_org == buyer_org:
        return "buyer"
    return None


def check_termination(party: Party, refund: Refund, *, buyer_may_terminate: bool) -> None:
    """Raise ``TerminationRefused`` unless ``party`` may terminate with ``refund``."""
    if party == "buyer" and not buyer_may_terminate:
        raise TerminationRefused(
            "buyer_may_not_terminate",
            "this listing's usage policy does not let buyers end a grant early",
        )
    allowed = REFUNDS_OF[party]
    if refund not in allowed:
        who = {
            "overseer": "a regulator or operator",
            "publisher": "the publishing organisation (for a breach)",
            "buyer": "the buyer",
        }[party]
        raise TerminationRefused(
            "refund_not_allowed",
            f"refund {refund!r} is not allowed when {who} terminates; "
            f"allowed: {', '.join(repr(r) for r in allowed)}",
            field="refund",
        )
