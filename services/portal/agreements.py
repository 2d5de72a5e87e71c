"""What the portal shows of a listing's usage policy, read from the ODRL offer itself.

The plain-words summary is derived from the very document the buyer accepts (the
catalog's ``GET /v1/listings/{id}/policy``), never from the listing's own fields, so
what a person reads and the hash the portal sends with the order are the same thing.
Anything in the offer the portal does not know how to word is listed as it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from services.common.usage_policy import policy_sha256
from services.contracts.catalog import ALL_PURPOSES

SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
PURPOSE_PREFIX = "vndx:purpose/"
ORG_PREFIX = "vndx:org/"
#: Prohibitions and duties the portal words itself (templates hold the sentences).
KNOWN_PROHIBITIONS = frozenset({"vndx:reidentify", "vndx:linkToSingleOut", "distribute"})
KNOWN_DUTIES = frozenset({"delete", "attribute"})


@dataclass(frozen=True)
class PolicySummary:
    """The offer's terms, ready to be put into sentences."""

    sha256: str
    purposes: list[str] = field(default_factory=list)
    until_access_ends: bool = False
    min_group_size: int | None = None
    prohibitions: list[str] = field(default_factory=list)
    duties: list[str] = field(default_factory=list)
    attribute_to: str | None = None
    approval: str = "automatic"
    buyer_may_terminate: bool = True
    unknown: list[str] = field(default_factory=list)


def _action(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("@id") or value.get("rdf:value") or value)
    return str(value)


def _constraint_terms(constraints: list[dict[str, Any]], summary: dict[str, Any]) -> None:
    for constraint in constraints:
        operand = constraint.get("leftOperand")
        right = constraint.get("rightOperand")
        if operand == "purpose":
            values = right if isinstance(right, list) else [right]
            summary["purposes"] = [str(v).removeprefix(PURPOSE_PREFIX) for v in values]
        elif operand == "event":
            summary["until_access_ends"] = True
        elif operand == "vndx:minGroupSize" and isinstance(right, int):
            summary["min_group_size"] = right
        else:
            summary["unknown"].append(f"{operand} {constraint.get('operator')} {right}")


def summarise(offer: dict[str, Any]) -> PolicySummary:
    """The terms of an ``odrl:Offer`` and its RFC 8785 hash (what ``accept_policy`` carries)."""
    summary: dict[str, Any] = {"unknown": [], "prohibitions": [], "duties": []}
    for permission in offer.get("permission") or []:
        if _action(permission.get("action")) != "use":
            summary["unknown"].append(f"permission {_action(permission.get('action'))}")
        _constraint_terms(permission.get("constraint") or [], summary)
        for duty in permission.get("duty") or []:
            action = _action(duty.get("action"))
            summary["duties"].append(action)
            if action == "attribute":
                summary["attribute_to"] = str(duty.get("attributedParty", "")).removeprefix(
                    ORG_PREFIX
                )
            elif action not in KNOWN_DUTIES:
                summary["unknown"].append(f"duty {action}")
    for prohibition in offer.get("prohibition") or []:
        action = _action(prohibition.get("action"))
        summary["prohibitions"].append(action)
        if action not in KNOWN_PROHIBITIONS:
            summary["unknown"].append(f"prohibition {action}")
    return PolicySummary(
        sha256=policy_sha256(offer),
        approval=str(offer.get("vndx:approval", "automatic")),
        buyer_may_terminate=bool(offer.get("vndx:buyerMayTerminate", True)),
        **summary,
    )


def allowed_purposes(listing: dict[str, Any]) -> list[str]:
    """The purposes a listing allows, in the controlled list's order."""
    allowed = listing.get("allowed_purposes")
    if not isinstance(allowed, list):
        return list(ALL_PURPOSES)
    return [p for p in ALL_PURPOSES if p in allowed]


def is_policy_hash(value: str) -> bool:
    return SHA256_HEX.match(value) is not None
