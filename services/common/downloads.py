"""The ``Content-Disposition`` header of a download, whatever characters its name has.

Names are built from organisation codes and ids that callers choose; a header must
be Latin-1, so a name is sent twice (RFC 6266): as an ASCII fallback and, encoded
per RFC 5987, as it really is.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Literal
from urllib.parse import quote

_NOT_PLAIN = re.compile(r"[^A-Za-z0-9._-]+")
_DASHES = re.compile(r"-{2,}")


def _plain(name: str) -> str:
    """``bộ-y-tế`` → ``bo-y-te``: accents dropped, anything else not plain becomes ``-``."""
    letters = unicodedata.normalize("NFKD", name.replace("đ", "d").replace("Đ", "D"))
    bare = "".join(c for c in letters if not unicodedata.combining(c))
    return _DASHES.sub("-", _NOT_PLAIN.sub("-", bare)).strip("-")


def content_disposition(
    filename: str, disposition: Literal["attachment", "inline"] = "attachment"
) -> str:
    """``attachment; filename="…"`` with a safe ASCII name, plus ``filename*`` if it differs."""
    plain = _plain(filename) or "download"
    header = f'{disposition}; filename="{plain}"'
    if plain != filename:
        header += f"; filename*=UTF-8''{quote(filename, safe='')}"
    return header
