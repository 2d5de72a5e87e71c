"""Detectors for Vietnamese personal identifiers and contact data, and masking of found values.

Each detector judges one string on its own; ``inspection`` applies them to column samples.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from enum import StrEnum
from types import MappingProxyType


class PiiKind(StrEnum):
    """A kind of personal data the scanner looks for."""

    CCCD = "cccd"
    CMND = "cmnd"
    PHONE = "phone"
    EMAIL = "email"
    TAX_CODE = "tax_code"
    PERSON_NAME = "person_name"


# The order in which a value that fits several kinds is attributed when a column gives no
# majority for either reading: the stricter rule first, since a value passes a check digit
# by chance far less often than it fits a phone prefix.
KIND_PRECEDENCE: tuple[PiiKind, ...] = (
    PiiKind.EMAIL,
    PiiKind.CCCD,
    PiiKind.TAX_CODE,
    PiiKind.PHONE,
    PiiKind.CMND,
    PiiKind.PERSON_NAME,
)

# First three digits of a CCCD: the 63 provinces as they stood before the 2025 merger
# (Circular 07/2016/TT-BCA).
CCCD_PROVINCE_CODES: Mapping[str, str] = MappingProxyType(
    {
        "001": "Hà Nội",
        "002": "Hà Giang",
        "004": "Cao Bằng",
        "006": "Bắc Kạn",
        "008": "Tuyên Quang",
        "010": "Lào Cai",
        "011": "Điện Biên",
        "012": "Lai Châu",
        "014": "Sơn La",
        "015": "Yên Bái",
        "017": "Hòa Bình",
        "019": "Thái Nguyên",
        "020": "Lạng Sơn",
        "022": "Quảng Ninh",
        "024": "Bắc Giang",
        "025": "Phú Thọ",
        "026": "Vĩnh Phúc",
        "027": "Bắc Ninh",
        "030": "Hải Dương",
        "031": "Hải Phòng",
        "033": "Hưng Yên",
        "034": "Thái Bình",
        "035": "Hà Nam",
        "036": "Nam Định",
        "037": "Ninh Bình",
        "038": "Thanh Hóa",
        "040": "Nghệ An",
        "042": "Hà Tĩnh",
        "044": "Quảng Bình",
        "045": "Quảng Trị",
        "046": "Thừa Thiên Huế",
        "048": "Đà Nẵng",
        "049": "Quảng Nam",
        "051": "Quảng Ngãi",
        "052": "Bình Định",
        "054": "Phú Yên",
        "056": "Khánh Hòa",
        "058": "Ninh Thuận",
        "060": "Bình Thuận",
        "062": "Kon Tum",
        "064": "Gia Lai",
        "066": "Đắk Lắk",
        "067": "Đắk Nông",
        "068": "Lâm Đồng",
        "070": "Bình Phước",
        "072": "Tây Ninh",
        "074": "Bình Dương",
        "075": "Đồng Nai",
        "077": "Bà Rịa - Vũng Tàu",
        "079": "TP Hồ Chí Minh",
        "080": "Long An",
        "082": "Tiền Giang",
        "083": "Bến Tre",
        "084": "Trà Vinh",
        "086": "Vĩnh Long",
        "087": "Đồng Tháp",
        "089": "An Giang",
        "091": "Kiên Giang",
        "092": "Cần Thơ",
        "093": "Hậu Giang",
        "094": "Sóc Trăng",
        "095": "Bạc Liêu",
        "096": "Cà Mau",
    }
)

# The 4th CCCD digit gives sex and century of birth: 0/1 for 1900-1999, 2/3 for 2000-2099,
# 4-9 for 2100 and later, which no living holder can have.
CCCD_CENTURY_SEX_DIGITS = frozenset("0123")

# CMND numbers began with a two-digit issuing-province prefix, 01 to 38.
CMND_PREFIXES = frozenset(f"{n:02d}" for n in range(1, 39))

COMMON_SURNAMES: tuple[str, ...] = (
    "Nguyễn",
    "Trần",
    "Lê",
    "Phạm",
    "Hoàng",
    "Huỳnh",
    "Phan",
    "Vũ",
    "Võ",
    "Đặng",
    "Bùi",
    "Đỗ",
    "Hồ",
    "Ngô",
    "Dương",
    "Lý",
    "Đinh",
    "Đào",
    "Đoàn",
    "Trương",
    "Trịnh",
    "Lâm",
    "Mai",
    "Lương",
    "Lưu",
    "Tô",
    "Cao",
    "Vương",
    "Tạ",
    "Hà",
    "Phùng",
    "Quách",
    "Thái",
    "Châu",
    "Kiều",
    "Triệu",
    "Tăng",
)

# Forms of address that precede a name in some exports ("Ông", "Quý cô").
_HONORIFICS = frozenset(
    {"ông", "bà", "anh", "chị", "cô", "bác", "chú", "em", "quý ông", "quý bà", "quý cô"}
)

_TAX_CODE_WEIGHT_SUM = 31 + 29 + 23 + 19 + 17 + 13 + 7 + 5 + 3

_CCCD_RE = re.compile(r"\d{12}", re.ASCII)
_CMND_RE = re.compile(r"\d{9}", re.ASCII)
_TAX_CODE_RE = re.compile(r"(\d{10})(?:\s?-\s?(\d{3})|(\d{3}))?", re.ASCII)
_PHONE_SHAPE_RE = re.compile(r"(?:\+|\(\+)?[\d()][\d .\-()]{7,20}", re.ASCII)
_PHONE_SEPARATORS = str.maketrans("", "", " .-()")
_EMAIL_RE = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@[A-Za-z0-9][A-Za-z0-9-]*(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}",
    re.ASCII,
)
# A Vietnamese syllable without its tone and vowel marks: onset, one to three vowels, coda.
_SYLLABLE_RE = re.compile(
    r"(?:ngh|ng|nh|ch|gh|gi|kh|ph|qu|th|tr|[bcdghklmnprstvx])?[aeiouy]{1,3}(?:ng|nh|ch|[cmnpt])?"
)


def _build_fold_table() -> dict[int, str]:
    table: dict[int, str] = {ord("đ"): "d", ord("Đ"): "D"}
    for code_point in (*range(0x00C0, 0x0250), *range(0x1E00, 0x1F00)):
        char = chr(code_point)
        base = "".join(
            c for c in unicodedata.normalize("NFD", char) if not unicodedata.combining(c)
        )
        if base != char and base.isascii():
            table[code_point] = base
    return table


_FOLD_TABLE = _build_fold_table()


def fold_diacritics(text: str) -> str:
    """Lower-case ``text`` and strip Vietnamese tone and vowel marks (``đ`` becomes ``d``)."""
    if text.isascii():
        return text.lower()
    return unicodedata.normalize("NFC", text).translate(_FOLD_TABLE).lower()


_SURNAMES_ACCENTED = frozenset(unicodedata.normalize("NFC", s).lower() for s in COMMON_SURNAMES)
_SURNAMES_FOLDED = frozenset(fold_diacritics(s) for s in COMMON_SURNAMES)
_HONORIFICS_FOLDED = frozenset(fold_diacritics(h) for h in _HONORIFICS)
_PLACE_PREFIXES_FOLDED = ("thanh pho ", "tinh ", "tp. ", "tp.", "tp ")


def _place_key(text: str) -> str:
    folded = " ".join(fold_diacritics(text).replace("-", " ").split())
    for prefix in _PLACE_PREFIXES_FOLDED:
        if folded.startswith(prefix):
            return folded[len(prefix) :].strip()
    return folded


_PROVINCE_KEYS = frozenset(_place_key(name) for name in CCCD_PROVINCE_CODES.values()) | {
    "ho chi minh",
    "sai gon",
    "hue",
}


def is_cccd(s: str) -> bool:
    """True for a 12-digit citizen id with a valid province code and a past birth century."""
    s = s.strip()
    return (
        _CCCD_RE.fullmatch(s) is not None
        and s[:3] in CCCD_PROVINCE_CODES
        and s[3] in CCCD_CENTURY_SEX_DIGITS
    )


def is_cmnd(s: str) -> bool:
    """True for a 9-digit legacy identity card number with a valid province prefix."""
    s = s.strip()
    # Amounts in đồng are usually round; a real CMND ends in 000 one time in a thousand.
    return _CMND_RE.fullmatch(s) is not None and s[:2] in CMND_PREFIXES and not s.endswith("000")


def is_phone(s: str) -> bool:
    """True for a Vietnamese mobile (0 + 9 digits) or landline (02 + 9 digits) number.

    Accepts a ``0``, ``+84``, ``(+84)``, ``0084`` or bare ``84`` (mobiles only) prefix and
    spaces, dots, dashes and parentheses between digit groups.
    """
    s = s.strip()
    if not (s.isascii() and s.isdigit()):
        if _PHONE_SHAPE_RE.fullmatch(s) is None:
            return False
        s = s.translate(_PHONE_SEPARATORS)
    if s.startswith("+84"):
        national = s[3:]
    elif s.startswith("0084"):
        national = s[4:]
    elif s.startswith("0"):
        national = s[1:]
    elif s.startswith("84"):
        # Without "+", "84" followed by a landline would be 12 digits, the shape of a CCCD.
        return _is_mobile(s[2:])
    else:
        return False
    return _is_mobile(national) or _is_landline(national)


def _is_mobile(national: str) -> bool:
    return len(national) == 9 and national[0] in "35789" and national.isdigit()


def _is_landline(national: str) -> bool:
    return len(national) == 10 and national[0] == "2" and national.isdigit()


def is_email(s: str) -> bool:
    """True for an e-mail address."""
    s = s.strip()
    return "@" in s and _EMAIL_RE.fullmatch(s) is not None


def tax_code_check_digit(first_nine: str) -> int | None:
    """The check digit for the first nine digits of a tax code, or None if none is issued."""
    if len(first_nine) != 9 or not (first_nine.isascii() and first_nine.isdigit()):
        raise ValueError(f"expected nine digits, got {first_nine!r}")
    d = first_nine.encode("ascii")
    # Written out, since this runs for every 10-digit value the scan meets.
    total = (
        31 * d[0]
        + 29 * d[1]
        + 23 * d[2]
        + 19 * d[3]
        + 17 * d[4]
        + 13 * d[5]
        + 7 * d[6]
        + 5 * d[7]
        + 3 * d[8]
        - _TAX_CODE_WEIGHT_SUM * ord("0")
    )
    check = 10 - total % 11
    return None if check == 10 else check


def is_tax_code(s: str) -> bool:
    """True for a 10-digit tax code (MST), or a 13-digit branch code written with or without '-'.

    The 10th digit must be the check digit and the sequence number (digits 3-9) non-zero.
    """
    s = s.strip()
    if s.isascii() and s.isdigit() and len(s) in (10, 13):
        main, branch = s[:10], s[10:]
    else:
        match = _TAX_CODE_RE.fullmatch(s)
        if match is None:
            return False
        main, branch = match.group(1), match.group(2) or match.group(3) or ""
    if main[2:9] == "0000000" or branch == "000":
        return False
    return tax_code_check_digit(main[:9]) == ord(main[9]) - ord("0")


def _is_syllable(word: str) -> bool:
    return _SYLLABLE_RE.fullmatch(word.lower()) is not None


def _is_surname(word: str) -> bool:
    if word.isascii():
        return word.lower() in _SURNAMES_FOLDED
    # With marks present they must be right: "Đường" (street) folds to "duong" like "Dương".
    return unicodedata.normalize("NFC", word).lower() in _SURNAMES_ACCENTED


def _without_honorific(words: list[str]) -> list[str]:
    for size in (2, 1):
        if len(words) - size >= 2 and fold_diacritics(" ".join(words[:size])) in _HONORIFICS_FOLDED:
            return words[size:]
    return words


def looks_like_person_name(s: str) -> bool:
    """True for 2-5 words starting (or, in Western order, ending) with a common surname.

    Marks are optional but, when present, must match the surname's ("Dương" yes, "Đường" no).
    Every word is capitalised (title or upper case); an honorific ("Ông", "Quý cô") in front
    is ignored; province names ("Hà Nội", "Thái Bình") are not names.
    """
    s = unicodedata.normalize("NFC", s.strip())
    if not s or not s[0].isalpha():
        return False
    words = _without_honorific(s.split())
    if not 2 <= len(words) <= 5:
        return False
    # Capitals keep out ordinary phrases that begin with a surname's syllable: "hồ sơ" (file),
    # "lý do" (reason), "trần nhà" (ceiling).
    if not all(w[0].isupper() for w in words):
        return False
    if not all(w.isalpha() for w in words):
        return False
    # Unmarked text could be English ("Do Not Disturb"): there every word must read as a
    # Vietnamese syllable. Marked text is Vietnamese already, and a given name may be foreign.
    if s.isascii() and not all(_is_syllable(w) for w in words):
        return False
    if not (_is_surname(words[0]) or _is_surname(words[-1])):
        return False
    return _place_key(" ".join(words)) not in _PROVINCE_KEYS


_NO_KINDS: frozenset[PiiKind] = frozenset()
_EMAIL_ONLY = frozenset({PiiKind.EMAIL})
_NAME_ONLY = frozenset({PiiKind.PERSON_NAME})

# For a value of plain digits, the detectors that can accept each length.
_DIGIT_DETECTORS_BY_LENGTH: Mapping[int, tuple[tuple[PiiKind, Callable[[str], bool]], ...]] = (
    MappingProxyType(
        {
            9: ((PiiKind.CMND, is_cmnd),),
            10: ((PiiKind.PHONE, is_phone), (PiiKind.TAX_CODE, is_tax_code)),
            11: ((PiiKind.PHONE, is_phone),),
            12: ((PiiKind.CCCD, is_cccd),),
            13: ((PiiKind.PHONE, is_phone), (PiiKind.TAX_CODE, is_tax_code)),
            14: ((PiiKind.PHONE, is_phone),),
        }
    )
)
_FORMATTED_NUMBER_DETECTORS = ((PiiKind.PHONE, is_phone), (PiiKind.TAX_CODE, is_tax_code))


def matching_kinds(s: str) -> frozenset[PiiKind]:
    """Every kind whose detector accepts ``s``; same answer as calling each detector.

    Only the detectors that could accept the value's shape run, since this is called for
    every distinct value of every scanned column.
    """
    s = s.strip()
    if not s:
        return _NO_KINDS
    if "@" in s:
        return _EMAIL_ONLY if is_email(s) else _NO_KINDS
    first = s[0]
    if first.isdigit() or first in "+(":
        if s.isascii() and s.isdigit():
            candidates = _DIGIT_DETECTORS_BY_LENGTH.get(len(s), ())
        else:
            candidates = _FORMATTED_NUMBER_DETECTORS
        kinds = [kind for kind, detector in candidates if detector(s)]
        return frozenset(kinds) if kinds else _NO_KINDS
    return _NAME_ONLY if looks_like_person_name(s) else _NO_KINDS


DETECTORS: Mapping[PiiKind, Callable[[str], bool]] = MappingProxyType(
    {
        PiiKind.CCCD: is_cccd,
        PiiKind.CMND: is_cmnd,
        PiiKind.PHONE: is_phone,
        PiiKind.EMAIL: is_email,
        PiiKind.TAX_CODE: is_tax_code,
        PiiKind.PERSON_NAME: looks_like_person_name,
    }
)


def _mask_digits(digits: str, keep_head: int, keep_tail: int) -> str:
    return digits[:keep_head] + "****" + digits[len(digits) - keep_tail :]


def _mask_phone(s: str) -> str:
    digits = s.translate(_PHONE_SEPARATORS)
    head = "+84" if digits.startswith(("+84", "0084", "84")) else digits[:1]
    return head + "****" + digits[-4:]


def _mask_email(s: str) -> str:
    local, _, domain = s.partition("@")
    host, _, tld = domain.rpartition(".")
    return f"{local[:1]}***@{host[:1]}***.{tld}"


def _mask_tax_code(s: str) -> str:
    digits = "".join(c for c in s if c.isdigit())
    masked = _mask_digits(digits[:10], 2, 2)
    return masked + "-***" if len(digits) > 10 else masked


def _mask_name(s: str) -> str:
    words = s.split()
    return " ".join((w[:2] + "***") if i == 0 else (w[:1] + "**") for i, w in enumerate(words))


def mask(value: str, kind: PiiKind | str) -> str:
    """A short form of ``value`` that shows its shape but never the whole value.

    ``0912345678`` -> ``0****5678``, ``nam@gmail.com`` -> ``n***@g***.com``,
    ``Nguyễn Văn An`` -> ``Ng*** V** A**``.
    """
    s = value.strip()
    match kind:
        case PiiKind.PHONE:
            masked = _mask_phone(s)
        case PiiKind.EMAIL:
            masked = _mask_email(s)
        case PiiKind.CCCD:
            masked = _mask_digits(s, 3, 2)
        case PiiKind.CMND:
            masked = _mask_digits(s, 2, 2)
        case PiiKind.TAX_CODE:
            masked = _mask_tax_code(s)
        case PiiKind.PERSON_NAME:
            masked = _mask_name(s)
        case _:
            masked = s[:1] + "***"
    # Malformed input to a kind's masker could leave the value whole: show nothing then
    # (and no value is a part of both placeholders).
    if s and s in masked:
        return "***" if s not in "***" else "###"
    return masked
