"""Download names: an ASCII fallback always, the real name beside it when it differs."""

from __future__ import annotations

from urllib.parse import unquote

from services.common.downloads import content_disposition


def test_a_plain_name_is_sent_as_it_is() -> None:
    assert content_disposition("extract-1f3a.csv") == 'attachment; filename="extract-1f3a.csv"'
    assert content_disposition("policy-1.jsonld", "inline") == 'inline; filename="policy-1.jsonld"'


def test_a_vietnamese_name_travels_in_filename_star_and_the_header_stays_latin_1() -> None:
    header = content_disposition("statement-bộ-y-tế-2026-11.csv")
    header.encode("latin-1")
    fallback, real = header.removeprefix("attachment; ").split("; ")
    assert fallback == 'filename="statement-bo-y-te-2026-11.csv"'
    assert unquote(real.removeprefix("filename*=UTF-8''")) == "statement-bộ-y-tế-2026-11.csv"


def test_quotes_and_separators_cannot_break_out_of_the_header() -> None:
    header = content_disposition('a"; filename="evil.exe')
    assert header.split("; filename*")[0] == 'attachment; filename="a-filename-evil.exe"'
    header.encode("latin-1")
    assert content_disposition("\U000f3dd5") == (
        "attachment; filename=\"download\"; filename*=UTF-8''%F3%B3%B7%95"
    )
