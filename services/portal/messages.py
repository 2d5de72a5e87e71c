"""Every message id the portal shows, extracted from its templates and Python code.

``python -m services.portal.messages`` refreshes the Vietnamese catalog: new ids
are added (untranslated, so the catalog test fails until someone translates
them), vanished ids are dropped, existing translations are kept.
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from services.portal.i18n import po_path

PORTAL_DIR = Path(__file__).parent
METHODS = [("**/templates/**.html", "jinja2.ext:babel_extract"), ("**.py", "python")]
OPTIONS = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n", "trimmed": "false"}}
KEYWORDS = {"_": None, "gettext": (2,), "ngettext": (1, 2)}


def extract_message_ids() -> dict[str, list[tuple[str, int]]]:
    """Message id -> where it is used (file, line)."""
    found: dict[str, list[tuple[str, int]]] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        PORTAL_DIR, METHODS, OPTIONS, keywords=KEYWORDS
    ):
        if isinstance(message, str) and message:
            found.setdefault(message, []).append((filename, lineno))
    return found


def refresh_catalog(lang: str = "vi") -> Catalog:
    path = po_path(lang)
    old = Catalog(locale=lang)
    if path.exists():
        with path.open("rb") as handle:
            old = read_po(handle, locale=lang)
    new = Catalog(locale=lang, project="vndx-portal", charset="utf-8")
    for message_id, locations in sorted(extract_message_ids().items()):
        previous = old.get(message_id)
        new.add(message_id, previous.string if previous else "", locations=locations)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        write_po(handle, new, width=100, omit_header=False, sort_output=True)
    return new


if __name__ == "__main__":
    catalog = refresh_catalog()
    missing = [m.id for m in catalog if m.id and not m.string]
    print(f"{len(catalog)} messages, {len(missing)} untranslated")
