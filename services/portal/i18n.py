"""The portal's two languages: Vietnamese (default) and English (the source strings).

The Vietnamese catalog is a Babel ``.po`` file compiled to ``.mo`` bytes in memory
when the portal starts, so the running site always matches the committed text.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

Lang = Literal["vi", "en"]
LANGUAGES: tuple[Lang, ...] = ("vi", "en")
DEFAULT_LANG: Lang = "vi"
LANG_COOKIE = "vndx_lang"
TRANSLATIONS_DIR = Path(__file__).parent / "translations"


def po_path(lang: str) -> Path:
    return TRANSLATIONS_DIR / lang / "LC_MESSAGES" / "messages.po"


def compile_catalog(lang: str) -> NullTranslations:
    """Read ``lang``'s ``.po`` file and compile it to a ``.mo`` in memory."""
    path = po_path(lang)
    if not path.exists():
        return NullTranslations()
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=lang)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled)


@dataclass(frozen=True)
class Catalogs:
    """Compiled translations per language."""

    by_lang: dict[Lang, NullTranslations]

    @classmethod
    def load(cls) -> Catalogs:
        return cls({lang: compile_catalog(lang) for lang in LANGUAGES})

    def gettext(self, lang: Lang, message: str) -> str:
        return self.by_lang[lang].gettext(message)


def pick_language(query_value: str | None, cookie_value: str | None) -> tuple[Lang, bool]:
    """The language to show and whether the cookie must be (re)written."""
    if query_value in LANGUAGES:
        return query_value, query_value != cookie_value
    if cookie_value in LANGUAGES:
        return cookie_value, False
    return DEFAULT_LANG, False
