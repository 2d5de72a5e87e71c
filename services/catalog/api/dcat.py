"""DCAT-AP JSON-LD export of the published catalog."""

from __future__ import annotations

from typing import Any

from services.catalog.domain.model import Listing
from services.catalog.domain.reference import PROVINCES, THEMES
from services.common.usage_policy import listing_iri, purpose_iri, version_iri

CONTEXT = {
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "vndx": "https://vndx.gov.vn/ns#",
    "odrl": "http://www.w3.org/ns/odrl/2/",
}


def dataset(listing: Listing, base_url: str) -> dict[str, Any]:
    meta = listing.metadata
    iri = listing_iri(base_url, listing.id)
    released = listing.released_version()
    item: dict[str, Any] = {
        "@id": iri,
        "@type": "dcat:Dataset",
        "dct:identifier": listing.id,
        "dct:title": [
            {"@value": meta.title_vi, "@language": "vi"},
            {"@value": meta.title_en, "@language": "en"},
        ],
        "dct:description": [
            {"@value": meta.description_vi, "@language": "vi"},
            {"@value": meta.description_en, "@language": "en"},
        ],
        "dcat:keyword": list(meta.keywords),
        "dcat:theme": {"@id": f"vndx:theme/{meta.theme}", "dct:title": THEMES[meta.theme][1]},
        "dct:publisher": {"@id": f"vndx:org/{listing.org}", "@type": "foaf:Organization"},
        "dct:spatial": [
            {"@id": f"vndx:province/{p}", "dct:title": PROVINCES[p]} for p in meta.provinces
        ]
        or [{"@id": "vndx:province/national", "dct:title": "Việt Nam"}],
        "dct:accrualPeriodicity": meta.update_frequency,
        "dct:license": {"@id": f"vndx:licence/{meta.licence}"},
        "dct:issued": {
            "@value": (listing.published_at or listing.created_at).isoformat(),
            "@type": "xsd:dateTime",
        },
        "dct:modified": {"@value": listing.updated_at.isoformat(), "@type": "xsd:dateTime"},
        "dcat:distribution": [
            {
                "@id": version_iri(base_url, listing.id, v.version),
                "@type": "dcat:Distribution",
                "dct:format": v.format,
                "dcat:byteSize": v.size_bytes,
                "vndx:rowCount": v.row_count,
                "vndx:qualityScore": v.quality_score,
                "dcat:accessURL": {"@id": iri},
                "vndx:products": list(meta.products),
                # Offers are made for the released version only (its policy's uid).
                **(
                    {
                        "odrl:hasPolicy": {
                            "@id": f"{version_iri(base_url, listing.id, v.version)}/policy"
                        }
                    }
                    if v is released
                    else {}
                ),
            }
            # A version not yet released (findings, pending review) is not offered.
            for v in listing.versions
            if released is not None and v.version <= released.version
        ],
        **usage_terms(listing, iri),
    }
    if meta.temporal:
        item["dct:temporal"] = {
            "@type": "dct:PeriodOfTime",
            "dcat:startDate": meta.temporal.start.isoformat(),
            **({"dcat:endDate": meta.temporal.end.isoformat()} if meta.temporal.end else {}),
        }
    return item


def usage_terms(listing: Listing, iri: str) -> dict[str, Any]:
    """The listing's usage terms; the full ODRL offer is served at ``vndx:policyDocument``."""
    meta = listing.metadata
    terms: dict[str, Any] = {
        "vndx:policyDocument": {"@id": f"{iri}/policy"},
        "vndx:allowedPurpose": [{"@id": purpose_iri(p)} for p in meta.allowed_purposes],
        "vndx:approval": meta.approval,
        "vndx:buyerMayTerminate": meta.buyer_may_terminate,
    }
    if meta.min_k is not None:
        terms["vndx:minK"] = meta.min_k
    if meta.min_group_size is not None:
        terms["vndx:minGroupSize"] = meta.min_group_size
    return terms


def catalog_document(listings: list[Listing], base_url: str) -> dict[str, Any]:
    return {
        "@context": CONTEXT,
        "@id": f"{base_url.rstrip('/')}/v1/catalog.jsonld",
        "@type": "dcat:Catalog",
        "dct:title": [
            {"@value": "Sàn giao dịch dữ liệu quốc gia", "@language": "vi"},
            {"@value": "National data exchange", "@language": "en"},
        ],
        "dcat:dataset": [dataset(listing, base_url) for listing in listings],
    }
