"""Every message the portal shows has a Vietnamese translation with the same placeholders."""

from __future__ import annotations

import re

from babel.messages.pofile import read_po

from services.portal.i18n import Catalogs, po_path
from services.portal.messages import extract_message_ids

PLACEHOLDER = re.compile(r"%\(\w+\)s|\{\w+\}")


def test_every_message_id_is_translated_to_vietnamese() -> None:
    with po_path("vi").open("rb") as handle:
        catalog = read_po(handle, locale="vi")
    translated = {m.id: m.string for m in catalog if m.id and m.string and not m.fuzzy}
    missing = sorted(set(extract_message_ids()) - set(translated))
    assert not missing, f"untranslated (run python -m services.portal.messages): {missing}"


def test_translations_keep_every_placeholder() -> None:
    with po_path("vi").open("rb") as handle:
        catalog = read_po(handle, locale="vi")
    for message in catalog:
        if message.id and message.string:
            assert sorted(PLACEHOLDER.findall(str(message.id))) == sorted(
                PLACEHOLDER.findall(str(message.string))
            ), message.id


def test_the_catalog_compiles_at_start() -> None:
    catalogs = Catalogs.load()
    assert catalogs.gettext("vi", "Sign in") == "Đăng nhập"
    assert catalogs.gettext("en", "Sign in") == "Sign in"
