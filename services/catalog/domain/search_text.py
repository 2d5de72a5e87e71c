"""Accent folding for search: ``dân cư`` and ``dan cu`` must meet.

Unicode decomposition removes most Vietnamese diacritics, but ``đ``/``Đ`` is a
letter of its own and must be folded by hand (on the indexed text and the query).
"""

from __future__ import annotations

import re
import unicodedata

_TOKEN = re.compile(r"[0-9a-z]+")


def fold(text: str) -> str:
    """Lowercase, strip diacritics and fold đ -> d."""
    text = text.replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return stripped.lower()


def tokens(text: str, limit: int = 12) -> list[str]:
    """The folded search terms of a query (letters and digits only, at most ``limit``)."""
    return _TOKEN.findall(fold(text))[:limit]
