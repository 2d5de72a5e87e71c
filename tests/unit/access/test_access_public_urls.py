"""Download URLs are signed for the host buyers use (``s3_public_endpoint``)."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from services.access.adapters.extracts import ExtractStore, public_url_signer
from services.common.objectstore import ObjectStore
from services.common.settings import Settings

GRANT = "6f1c7e5e-8d1a-4c55-9a4e-1d2b3c4d5e6f"


def _store(**values: object) -> ExtractStore:
    settings = Settings(s3_endpoint="127.0.0.1:8333", **values)  # type: ignore[arg-type]
    return ExtractStore(ObjectStore.from_settings(settings), signer=public_url_signer(settings))


@pytest.mark.parametrize(
    ("public", "scheme", "netloc"),
    [
        (None, "http", "127.0.0.1:8333"),
        ("https://du-lieu.vndx.gov.vn", "https", "du-lieu.vndx.gov.vn"),
        ("http://203.0.113.7:9000", "http", "203.0.113.7:9000"),
        ("files.vndx.example:8443", "http", "files.vndx.example:8443"),
    ],
)
def test_urls_are_signed_for_the_public_host(public: str | None, scheme: str, netloc: str) -> None:
    url = urlsplit(_store(s3_public_endpoint=public).download_url(GRANT, "csv", timedelta(hours=1)))

    assert (url.scheme, url.netloc) == (scheme, netloc)
    assert url.path == f"/vndx-data/sandbox/{GRANT}/extract.csv"
    query = parse_qs(url.query)
    assert query["X-Amz-SignedHeaders"] == ["host"]
    assert query["X-Amz-Expires"] == ["900"]  # never longer than 15 minutes


def test_a_public_endpoint_with_a_path_is_refused() -> None:
    with pytest.raises(ValueError, match="s3_public_endpoint"):
        _store(s3_public_endpoint="https://vndx.gov.vn/s3")
