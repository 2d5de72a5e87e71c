"""Synthetic demo datasets generated locally with Faker's ``vi_VN`` locale.

Each builder returns the listing body (metadata + classified schema) and writes
the CSV it describes; nothing here is real personal data.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from faker import Faker

REGIONS = {
    "ha-noi": "Đồng bằng sông Hồng",
    "hai-phong": "Đồng bằng sông Hồng",
    "bac-ninh": "Đồng bằng sông Hồng",
    "quang-ninh": "Đồng bằng sông Hồng",
    "thanh-hoa": "Bắc Trung Bộ",
    "nghe-an": "Bắc Trung Bộ",
    "hue": "Bắc Trung Bộ",
    "da-nang": "Duyên hải Nam Trung Bộ",
    "khanh-hoa": "Duyên hải Nam Trung Bộ",
    "gia-lai": "Tây Nguyên",
    "dak-lak": "Tây Nguyên",
    "ho-chi-minh": "Đông Nam Bộ",
    "dong-nai": "Đông Nam Bộ",
    "can-tho": "Đồng bằng sông Cửu Long",
    "an-giang": "Đồng bằng sông Cửu Long",
    "ca-mau": "Đồng bằng sông Cửu Long",
}
# Pre-2025 CCCD province codes of the provinces above (first three digits of a citizen id).
CCCD_CODES = {
    "ha-noi": "001",
    "hai-phong": "031",
    "bac-ninh": "027",
    "quang-ninh": "022",
    "thanh-hoa": "038",
    "nghe-an": "040",
    "hue": "046",
    "da-nang": "048",
    "khanh-hoa": "056",
    "gia-lai": "064",
    "dak-lak": "066",
    "ho-chi-minh": "079",
    "dong-nai": "075",
    "can-tho": "092",
    "an-giang": "089",
    "ca-mau": "096",
}
OCCUPATIONS = [
    "Nông dân",
    "Công nhân",
    "Giáo viên",
    "Kỹ sư",
    "Bác sĩ",
    "Buôn bán",
    "Nhân viên văn phòng",
    "Lái xe",
    "Sinh viên",
    "Nghỉ hưu",
]
SECTORS = [
    "Nông nghiệp",
    "Chế biến chế tạo",
    "Xây dựng",
    "Bán buôn bán lẻ",
    "Vận tải kho bãi",
    "Lưu trú ăn uống",
    "Thông tin truyền thông",
    "Tài chính ngân hàng",
    "Giáo dục đào tạo",
    "Y tế",
]
DIAGNOSES = [
    "Tăng huyết áp",
    "Đái tháo đường",
    "Hen phế quản",
    "Viêm phổi",
    "Sốt xuất huyết",
    "Khác",
]


@dataclass(frozen=True)
class DemoBuyer:
    """A buyer organisation the operator verifies, so its segment discount applies."""

    code: str
    registered_name: str
    tax_code: str
    segment: str


DEMO_BUYERS: tuple[DemoBuyer, ...] = (
    DemoBuyer("startup-a", "Công ty Cổ phần Khởi nghiệp Dữ liệu A", "0312345673", "startup"),
    DemoBuyer("sme-phan-tich-so", "Công ty TNHH Phân tích Số", "0105557775", "sme"),
    DemoBuyer("dh-vinh", "Trường Đại học Vinh", "0401234566", "research_education"),
    DemoBuyer("quy-cong-dong", "Quỹ Hỗ trợ Phát triển Cộng đồng", "4801234568", "public_interest"),
    DemoBuyer(
        "data-insight-sg", "Data Insight Pte. Ltd. — Văn phòng đại diện", "0108889994", "foreign"
    ),
)


@dataclass(frozen=True)
class DemoDataset:
    org: str
    org_name: str
    listing: dict[str, Any]
    write_csv: Callable[[Path, int, random.Random], None]
    rows: int


def _province_table() -> list[list[str]]:
    return [[code, region, "*"] for code, region in REGIONS.items()]


def _citizen_id(rng: random.Random, province: str, birth: date, male: bool) -> str:
    century = 0 if birth.year < 2000 else 2
    sex_digit = century + (0 if male else 1)
    return f"{CCCD_CODES[province]}{sex_digit}{birth.year % 100:02d}{rng.randrange(10**6):06d}"


def _write_population(path: Path, rows: int, rng: random.Random) -> None:
    fake = Faker("vi_VN")
    fake.seed_instance(rng.randrange(2**31))
    provinces = list(REGIONS)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "full_name",
                "citizen_id",
                "date_of_birth",
                "sex",
                "province",
                "occupation",
                "monthly_income",
            ]
        )
        for _ in range(rows):
            male = rng.random() < 0.5
            birth = fake.date_of_birth(minimum_age=18, maximum_age=85)
            province = rng.choice(provinces)
            name = fake.name_male() if male else fake.name_female()
            income = int(rng.lognormvariate(15.9, 0.6)) // 1000 * 1000
            writer.writerow(
                [
                    name,
                    _citizen_id(rng, province, birth, male),
                    birth.isoformat(),
                    "Nam" if male else "Nữ",
                    province,
                    rng.choice(OCCUPATIONS),
                    income,
                ]
            )


def _write_businesses(path: Path, rows: int, rng: random.Random) -> None:
    fake = Faker("vi_VN")
    fake.seed_instance(rng.randrange(2**31))
    provinces = list(REGIONS)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "tax_code",
                "company_name",
                "sector",
                "province",
                "founded",
                "employees",
                "annual_revenue",
            ]
        )
        for _ in range(rows):
            writer.writerow(
                [
                    f"0{rng.randrange(10**8, 10**9)}",
                    fake.company(),
                    rng.choice(SECTORS),
                    rng.choice(provinces),
                    fake.date_between(date(1990, 1, 1), date(2025, 6, 30)).isoformat(),
                    int(rng.paretovariate(1.3) * 5),
                    int(rng.lognormvariate(21, 1.5)) // 1_000_000 * 1_000_000,
                ]
            )


def _write_hospital_visits(path: Path, rows: int, rng: random.Random) -> None:
    provinces = list(REGIONS)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["visit_date", "age", "sex", "province", "diagnosis", "cost"])
        for _ in range(rows):
            writer.writerow(
                [
                    date(2025, rng.randint(1, 12), rng.randint(1, 28)).isoformat(),
                    rng.randint(0, 95),
                    rng.choice(["Nam", "Nữ"]),
                    rng.choice(provinces),
                    rng.choice(DIAGNOSES),
                    rng.randrange(50, 20_000) * 1000,
                ]
            )


def _write_province_statistics(provinces: list[str]) -> Callable[[Path, int, random.Random], None]:
    def write(path: Path, rows: int, rng: random.Random) -> None:
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["year", "province", "indicator", "value"])
            for index in range(rows):
                writer.writerow(
                    [
                        2015 + index % 10,
                        provinces[index % len(provinces)],
                        rng.choice(["Dân số", "Lao động", "Hộ nghèo", "Học sinh"]),
                        rng.randrange(1_000, 2_000_000),
                    ]
                )

    return write


def _column(name: str, type_: str, classification: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": type_, "classification": classification, **extra}


def _province_statistics(code: str, org_name: str, name_vi: str, name_en: str) -> DemoDataset:
    return DemoDataset(
        org=code,
        org_name=org_name,
        rows=400,
        write_csv=_write_province_statistics([code]),
        listing={
            "title_vi": f"Chỉ tiêu kinh tế xã hội {name_vi} 2015–2024",
            "title_en": f"{name_en} socio-economic indicators 2015–2024",
            "description_vi": f"Số liệu thống kê tổng hợp hằng năm của {name_vi}.",
            "description_en": f"Annual aggregate statistics of {name_en}.",
            "keywords": ["thống kê", name_vi, "statistics"],
            "theme": "statistics",
            "provinces": [code],
            "temporal": {"start": "2015-01-01", "end": "2024-12-31"},
            "update_frequency": "yearly",
            "products": ["download"],
            "columns": [
                _column("year", "integer", "attribute"),
                _column("province", "string", "attribute"),
                _column("indicator", "string", "attribute"),
                _column("value", "integer", "attribute"),
            ],
        },
    )


def demo_datasets() -> list[DemoDataset]:
    province_hint = {"kind": "admin_level", "table": _province_table()}
    return [
        DemoDataset(
            org="bca-c06",
            org_name="Bộ Công an — Cục C06 (Cơ sở dữ liệu quốc gia về dân cư)",
            rows=5_000,
            write_csv=_write_population,
            listing={
                "title_vi": "Dữ liệu dân cư mẫu theo tỉnh",
                "title_en": "Sample population registry by province",
                "description_vi": "Trích xuất tổng hợp từ cơ sở dữ liệu quốc gia về dân cư (dữ liệu tổng hợp giả lập).",
                "description_en": "Extract of the national population database (synthetic data).",
                "keywords": ["dân cư", "điều tra dân số", "population", "census"],
                "theme": "population",
                "provinces": [],
                "temporal": {"start": "2024-01-01", "end": "2025-12-31"},
                "update_frequency": "monthly",
                "products": ["download", "sandbox"],
                # Population data: public-interest uses only, each request decided by C06.
                "allowed_purposes": ["research", "statistics", "public_service"],
                "approval": "provider",
                "min_k": 10,
                "columns": [
                    _column("full_name", "string", "direct_identifier"),
                    _column("citizen_id", "string", "direct_identifier", keep_as_pseudonym=True),
                    _column(
                        "date_of_birth",
                        "date",
                        "quasi_identifier",
                        hint={"kind": "date_truncation", "levels": ["month", "year", "decade"]},
                    ),
                    _column("sex", "string", "quasi_identifier"),
                    _column("province", "string", "quasi_identifier", hint=province_hint),
                    _column("occupation", "string", "attribute"),
                    _column("monthly_income", "integer", "sensitive"),
                ],
            },
        ),
        DemoDataset(
            org="btc-dkkd",
            org_name="Bộ Tài chính — Cơ sở dữ liệu quốc gia về đăng ký doanh nghiệp",
            rows=3_000,
            write_csv=_write_businesses,
            listing={
                "title_vi": "Doanh nghiệp đăng ký theo ngành và tỉnh",
                "title_en": "Registered businesses by sector and province",
                "description_vi": "Thông tin doanh nghiệp: ngành nghề, địa bàn, quy mô lao động, doanh thu.",
                "description_en": "Business register: sector, location, workforce and revenue.",
                "keywords": ["doanh nghiệp", "mã số thuế", "business", "enterprise"],
                "theme": "business",
                "provinces": [],
                "temporal": {"start": "1990-01-01", "end": "2025-06-30"},
                "update_frequency": "quarterly",
                "products": ["download", "sandbox"],
                "list_price": 5_000_000,
                "columns": [
                    _column("tax_code", "string", "direct_identifier", keep_as_pseudonym=True),
                    _column("company_name", "string", "direct_identifier"),
                    _column("sector", "string", "attribute"),
                    _column("province", "string", "attribute"),
                    _column("founded", "date", "attribute"),
                    _column("employees", "integer", "attribute"),
                    _column("annual_revenue", "integer", "attribute"),
                ],
            },
        ),
        DemoDataset(
            org="byt",
            org_name="Bộ Y tế",
            rows=4_000,
            write_csv=_write_hospital_visits,
            listing={
                "title_vi": "Lượt khám bệnh theo chẩn đoán năm 2025",
                "title_en": "Hospital visits by diagnosis, 2025",
                "description_vi": "Lượt khám chữa bệnh: ngày, tuổi, giới tính, tỉnh, chẩn đoán và chi phí.",
                "description_en": "Hospital visits: date, age, sex, province, diagnosis and cost.",
                "keywords": ["y tế", "khám bệnh", "health", "hospital"],
                "theme": "health",
                "provinces": [],
                "temporal": {"start": "2025-01-01", "end": "2025-12-31"},
                "update_frequency": "monthly",
                "products": ["sandbox"],
                # Health data: no commercial use, aggregates of at least 20 visits only.
                "allowed_purposes": [
                    "research",
                    "statistics",
                    "public_service",
                    "education",
                    "journalism",
                ],
                "min_group_size": 20,
                "columns": [
                    _column(
                        "visit_date",
                        "date",
                        "quasi_identifier",
                        hint={"kind": "date_truncation", "levels": ["month", "year"]},
                    ),
                    _column(
                        "age",
                        "integer",
                        "quasi_identifier",
                        hint={"kind": "numeric_bands", "widths": [5, 10, 20, 50]},
                    ),
                    _column("sex", "string", "quasi_identifier"),
                    _column("province", "string", "quasi_identifier", hint=province_hint),
                    _column("diagnosis", "string", "sensitive"),
                    _column("cost", "integer", "attribute"),
                ],
            },
        ),
        _province_statistics("ha-noi", "UBND Thành phố Hà Nội", "Hà Nội", "Hanoi"),
        _province_statistics("da-nang", "UBND Thành phố Đà Nẵng", "Đà Nẵng", "Da Nang"),
    ]


ADULT_QUASI = [
    "sex",
    "age",
    "race",
    "marital-status",
    "education",
    "native-country",
    "workclass",
    "occupation",
]


def adult_listing(adult_dir: Path) -> dict[str, Any]:
    """The UCI Adult census set as a listing, with the ARX hierarchies as hints."""

    def hierarchy(column: str) -> list[list[str]]:
        path = adult_dir / f"adult_hierarchy_{column}.csv"
        with path.open(encoding="utf-8") as handle:
            return [row for row in csv.reader(handle, delimiter=";") if row]

    columns = [
        _column(
            name,
            "integer" if name == "age" else "string",
            "quasi_identifier",
            hint={"kind": "hierarchy", "table": hierarchy(name)},
        )
        for name in ADULT_QUASI
    ]
    columns.append(_column("salary-class", "string", "sensitive"))
    return {
        "title_vi": "Điều tra dân số Adult (UCI) — thu nhập theo đặc điểm nhân khẩu",
        "title_en": "Adult census (UCI) — income by demographic attributes",
        "description_vi": "Bộ dữ liệu điều tra dân số Adult gồm 30.162 bản ghi, dùng làm chuẩn cho k-ẩn danh.",
        "description_en": "The UCI Adult census extract, 30,162 records; the classic k-anonymity benchmark.",
        "keywords": ["điều tra dân số", "census", "thu nhập", "income", "k-anonymity"],
        "theme": "population",
        "provinces": [],
        "temporal": {"start": "1994-01-01", "end": "1994-12-31"},
        "update_frequency": "once",
        "licence": "cc-by-4.0",
        "products": ["download", "sandbox"],
        "columns": columns,
    }
