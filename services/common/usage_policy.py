"""Usage policies as data: a listing's ODRL 2.2 offer and a grant's agreement.

Catalog serves the offer (``GET /v1/listings/{id}/policy``), orders checks the hash a
buyer accepted against the offer it rebuilds from the same listing snapshot, and
access stores the agreement on the grant. All three build the documents here, from
event-carried facts only, so the same listing always yields byte-identical JSON and
the same RFC 8785 hash in every service.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

import rfc8785

from services.contracts.catalog import ListingSnapshot

ODRL_CONTEXT = "http://www.w3.org/ns/odrl.jsonld"
VNDX_NAMESPACE = "https://vndx.gov.vn/ns#"
CONTEXT: list[Any] = [ODRL_CONTEXT, {"vndx": VNDX_NAMESPACE}]

#: What ODRL has no action for, in the ``vndx:`` vocabulary.
REIDENTIFY = "vndx:reidentify"
LINK_TO_SINGLE_OUT = "vndx:linkToSingleOut"
#: The event that ends an offer's permission: the grant's expiry (or its earlier end).
GRANT_EXPIRED = {"@id": "vndx:grantExpired"}


def listing_iri(iri_base: str, listing_id: str) -> str:
    return f"{iri_base.rstrip('/')}/v1/listings/{listing_id}"


def version_iri(iri_base: str, listing_id: str, version: int) -> str:
    return f"{listing_iri(iri_base, listing_id)}/versions/{version}"


def organisation_iri(code: str) -> str:
    return f"vndx:org/{code}"


def purpose_iri(purpose: str) -> str:
    return f"vndx:purpose/{purpose}"


def _target(listing: ListingSnapshot, iri_base: str) -> str:
    version = listing.latest_version.version if listing.latest_version else 0
    return version_iri(iri_base, listing.listing_id, version)


def _prohibitions(target: str) -> list[dict[str, Any]]:
    return [
        {"target": target, "action": REIDENTIFY},
        {"target": target, "action": LINK_TO_SINGLE_OUT},
        {"target": target, "action": "distribute"},
    ]


def _sandbox_limit(listing: ListingSnapshot) -> list[dict[str, Any]]:
    if listing.min_group_size is None:
        return []
    return [
        {
            "leftOperand": "vndx:minGroupSize",
            "operator": "gteq",
            "rightOperand": listing.min_group_size,
        }
    ]


def offer(listing: ListingSnapshot, iri_base: str) -> dict[str, Any]:
    """The ``odrl:Offer`` a buyer accepts by sending its hash with the order."""
    target = _target(listing, iri_base)
    assigner = organisation_iri(listing.org)
    return {
        "@context": CONTEXT,
        "@type": "Offer",
        "uid": f"{target}/policy",
        "profile": f"{VNDX_NAMESPACE}odrl-profile",
        "assigner": assigner,
        "target": target,
        "permission": [
            {
                "target": target,
                "assigner": assigner,
                "action": "use",
                "constraint": [
                    {
                        "leftOperand": "purpose",
                        "operator": "isAnyOf",
                        "rightOperand": [purpose_iri(p) for p in listing.allowed_purposes],
                    },
                    {"leftOperand": "event", "operator": "lt", "rightOperand": GRANT_EXPIRED},
                    *_sandbox_limit(listing),
                ],
                "duty": [
                    {
                        "action": "delete",
                        "constraint": [
                            {
                                "leftOperand": "event",
                                "operator": "gt",
                                "rightOperand": GRANT_EXPIRED,
                            }
                        ],
                    },
                    {"action": "attribute", "attributedParty": assigner},
                ],
            }
        ],
        "prohibition": _prohibitions(target),
        "vndx:approval": listing.approval,
        "vndx:products": list(listing.products),
        "vndx:buyerMayTerminate": listing.buyer_may_terminate,
    }


def agreement(
    listing: ListingSnapshot,
    iri_base: str,
    *,
    grant_id: str,
    buyer_org: str,
    purpose: str | None,
    issued_at: datetime,
    expires_at: datetime,
    listing_version: int,
    accepted_offer_sha256: str | None,
) -> dict[str, Any]:
    """The ``odrl:Agreement`` a grant rests on: who, what, for which purpose, until when."""
    target = version_iri(iri_base, listing.listing_id, listing_version)
    assigner = organisation_iri(listing.org)
    period = [
        {"leftOperand": "dateTime", "operator": "gteq", "rightOperand": issued_at.isoformat()},
        {"leftOperand": "dateTime", "operator": "lteq", "rightOperand": expires_at.isoformat()},
    ]
    purpose_constraint = (
        [{"leftOperand": "purpose", "operator": "eq", "rightOperand": purpose_iri(purpose)}]
        if purpose
        else []
    )
    return {
        "@context": CONTEXT,
        "@type": "Agreement",
        "uid": f"{listing_iri(iri_base, listing.listing_id)}/agreements/{grant_id}",
        "profile": f"{VNDX_NAMESPACE}odrl-profile",
        "assigner": assigner,
        "assignee": organisation_iri(buyer_org),
        "target": target,
        "permission": [
            {
                "target": target,
                "assigner": assigner,
                "assignee": organisation_iri(buyer_org),
                "action": "use",
                "constraint": [*purpose_constraint, *period, *_sandbox_limit(listing)],
                "duty": [
                    {
                        "action": "delete",
                        "constraint": [
                            {
                                "leftOperand": "dateTime",
                                "operator": "eq",
                                "rightOperand": expires_at.isoformat(),
                            }
                        ],
                    },
                    {"action": "attribute", "attributedParty": assigner},
                ],
            }
        ],
        "prohibition": _prohibitions(target),
        "vndx:acceptedOffer": accepted_offer_sha256,
    }


def policy_sha256(document: dict[str, Any]) -> str:
    """Lowercase hex SHA-256 of the document's RFC 8785 canonical form."""
    return hashlib.sha256(rfc8785.dumps(document)).hexdigest()
