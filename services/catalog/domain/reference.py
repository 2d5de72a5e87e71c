"""Controlled vocabularies of the catalog: themes, provinces, frequencies, column types.

The provinces are Vietnam's 34 provincial-level units since 1 July 2025
(6 centrally-run cities and 28 provinces).
"""

from __future__ import annotations

from typing import Final

THEMES: Final[dict[str, tuple[str, str]]] = {
    "population": ("Dân cư", "Population"),
    "land": ("Đất đai", "Land"),
    "civil_status": ("Hộ tịch", "Civil status"),
    "insurance": ("Bảo hiểm", "Insurance"),
    "health": ("Y tế", "Health"),
    "education": ("Giáo dục", "Education"),
    "business": ("Doanh nghiệp", "Business"),
    "labour": ("Lao động", "Labour"),
    "agriculture": ("Nông nghiệp", "Agriculture"),
    "transport": ("Giao thông", "Transport"),
    "environment": ("Môi trường", "Environment"),
    "finance": ("Tài chính", "Finance"),
    "justice": ("Tư pháp", "Justice"),
    "science": ("Khoa học công nghệ", "Science and technology"),
    "culture": ("Văn hoá, du lịch", "Culture and tourism"),
    "statistics": ("Thống kê", "Statistics"),
}

PROVINCES: Final[dict[str, str]] = {
    "ha-noi": "Hà Nội",
    "hue": "Huế",
    "hai-phong": "Hải Phòng",
    "da-nang": "Đà Nẵng",
    "ho-chi-minh": "TP. Hồ Chí Minh",
    "can-tho": "Cần Thơ",
    "lai-chau": "Lai Châu",
    "dien-bien": "Điện Biên",
    "son-la": "Sơn La",
    "lang-son": "Lạng Sơn",
    "quang-ninh": "Quảng Ninh",
    "thanh-hoa": "Thanh Hoá",
    "nghe-an": "Nghệ An",
    "ha-tinh": "Hà Tĩnh",
    "cao-bang": "Cao Bằng",
    "tuyen-quang": "Tuyên Quang",
    "lao-cai": "Lào Cai",
    "thai-nguyen": "Thái Nguyên",
    "phu-tho": "Phú Thọ",
    "bac-ninh": "Bắc Ninh",
    "hung-yen": "Hưng Yên",
    "ninh-binh": "Ninh Bình",
    "quang-tri": "Quảng Trị",
    "quang-ngai": "Quảng Ngãi",
    "gia-lai": "Gia Lai",
    "khanh-hoa": "Khánh Hoà",
    "lam-dong": "Lâm Đồng",
    "dak-lak": "Đắk Lắk",
    "dong-nai": "Đồng Nai",
    "tay-ninh": "Tây Ninh",
    "vinh-long": "Vĩnh Long",
    "dong-thap": "Đồng Tháp",
    "ca-mau": "Cà Mau",
    "an-giang": "An Giang",
}

UPDATE_FREQUENCIES: Final[dict[str, int | None]] = {
    "daily": 1,
    "weekly": 7,
    "monthly": 31,
    "quarterly": 92,
    "yearly": 366,
    "irregular": None,
    "once": None,
}

COLUMN_TYPES: Final[tuple[str, ...]] = (
    "string",
    "integer",
    "number",
    "boolean",
    "date",
    "datetime",
)

CLASSIFICATIONS: Final[tuple[str, ...]] = (
    "direct_identifier",
    "quasi_identifier",
    "sensitive",
    "attribute",
)

PRODUCTS: Final[tuple[str, ...]] = ("download", "sandbox")

LICENCES: Final[tuple[str, ...]] = (
    "vndx-restricted-1.0",
    "vndx-research-1.0",
    "cc-by-4.0",
    "odc-by-1.0",
)

#: The purposes a listing may allow (the contract's ``Purpose``), with their labels.
PURPOSES: Final[dict[str, tuple[str, str]]] = {
    "research": ("Nghiên cứu khoa học", "Research"),
    "statistics": ("Thống kê", "Statistics"),
    "public_service": ("Dịch vụ công", "Public service"),
    "product_development": ("Phát triển sản phẩm", "Product development"),
    "commercial_analytics": ("Phân tích thương mại", "Commercial analytics"),
    "journalism": ("Báo chí", "Journalism"),
    "education": ("Giáo dục", "Education"),
}
