"""The personal-data scan, end to end: a CSV is written, sampled and inspected."""

from __future__ import annotations

import csv
import random
import unicodedata
from collections.abc import Callable
from pathlib import Path

import faker
import pytest
from hypothesis import example as hypothesis_example
from hypothesis import given
from hypothesis import strategies as st

from services.catalog.adapters.sampling import sample_columns
from services.catalog.domain.inspection import ColumnSample, InspectionReport, inspect
from services.catalog.domain.vn_identifiers import (
    CCCD_PROVINCE_CODES,
    DETECTORS,
    PiiKind,
    is_cccd,
    is_cmnd,
    is_email,
    is_phone,
    is_tax_code,
    looks_like_person_name,
    mask,
    matching_kinds,
)

ROWS = 5_000
HIDDEN = "ghi_chu"

# Written out here rather than read from the module, so that a wrong table fails the tests.
REAL_CCCD_PROVINCES = ["001", "031", "038", "040", "048", "079", "092", "096", "022", "066"]
MOBILE_PREFIXES = [
    *(f"03{d}" for d in range(2, 10)),
    "052",
    "056",
    "058",
    "059",
    "070",
    *(f"07{d}" for d in range(6, 10)),
    *(f"08{d}" for d in range(1, 10)),
    *(f"09{d}" for d in range(10)),
]
LANDLINE_AREAS = ["24", "28", "236", "225", "292", "251", "274", "203"]
SECTORS = [
    "Nông nghiệp",
    "Lâm nghiệp và thủy sản",
    "Công nghiệp chế biến, chế tạo",
    "Xây dựng",
    "Bán buôn và bán lẻ",
    "Vận tải kho bãi",
    "Dịch vụ lưu trú và ăn uống",
    "Thông tin và truyền thông",
    "Tài chính, ngân hàng và bảo hiểm",
    "Giáo dục và đào tạo",
    "Y tế và trợ giúp xã hội",
    "Khai khoáng",
]
# Weighted towards provinces whose names begin like surnames (Hà, Hồ, Thái, Cao, Lâm).
PROVINCES = [
    "Hà Nội",
    "Hà Nội",
    "Hà Nội",
    "TP Hồ Chí Minh",
    "Thành phố Hồ Chí Minh",
    "Thái Bình",
    "Thái Nguyên",
    "Cao Bằng",
    "Lâm Đồng",
    "Hà Tĩnh",
    "Đà Nẵng",
    "Cần Thơ",
    "Bình Dương",
    "Hải Dương",
    "Bà Rịa - Vũng Tàu",
]


def fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def tax_check_digit(nine: str) -> int:
    total = sum(w * int(d) for w, d in zip((31, 29, 23, 19, 17, 13, 7, 5, 3), nine, strict=True))
    return 10 - total % 11


# --- generators of personal data -----------------------------------------------------------


def gen_cccd(rng: random.Random) -> str:
    century_sex = rng.choice("0123")
    year = rng.randint(0, 99) if century_sex in "01" else rng.randint(0, 20)
    return f"{rng.choice(REAL_CCCD_PROVINCES)}{century_sex}{year:02d}{rng.randint(0, 999_999):06d}"


def gen_cmnd(rng: random.Random) -> str:
    return f"{rng.randint(1, 38):02d}{rng.randint(0, 9_999_999):07d}"


def gen_phone(rng: random.Random) -> str:
    if rng.random() < 0.2:
        area = rng.choice(LANDLINE_AREAS)
        subscriber = f"{rng.randint(0, 10 ** (10 - len(area)) - 1):0{10 - len(area)}d}"
        return rng.choice(
            [f"0{area}{subscriber}", f"(0{area}) {subscriber}", f"+84 {area} {subscriber}"]
        )
    prefix, rest = rng.choice(MOBILE_PREFIXES), f"{rng.randint(0, 9_999_999):07d}"
    national = prefix[1:] + rest
    return rng.choice(
        [
            prefix + rest,
            f"{prefix} {rest[:3]} {rest[3:]}",
            f"{prefix}.{rest[:3]}.{rest[3:]}",
            f"{prefix}-{rest[:3]}-{rest[3:]}",
            f"+84{national}",
            f"+84 {national[:2]} {national[2:5]} {national[5:]}",
            f"(+84) {national}",
        ]
    )


FAKE = faker.Faker("vi_VN")


def fake(rng: random.Random) -> faker.Faker:
    FAKE.seed_instance(rng.random())
    return FAKE


def vi_given_name(rng: random.Random) -> str:
    # Faker's vi_VN first_name() falls back to English names; these lists are Vietnamese.
    source = fake(rng)
    pick = rng.choice([source.first_name_male, source.first_name_female, source.first_name_unisex])
    return str(pick())


def gen_email(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return str(fake(rng).email())
    given_name = fold(vi_given_name(rng)).lower()
    family = fold(str(fake(rng).last_name())).lower()
    domain = rng.choice(["gmail.com", "yahoo.com.vn", "hanoi.gov.vn", "fpt.edu.vn"])
    return f"{given_name}.{family}{rng.randint(1, 99)}@{domain}"


def gen_tax_code(rng: random.Random) -> str:
    while True:
        nine = f"{rng.randint(1, 96):02d}{rng.randint(1, 9_999_999):07d}"
        check = tax_check_digit(nine)
        if check < 10:
            break
    code = f"{nine}{check}"
    branch = rng.random()
    if branch < 0.3:
        return f"{code}-{rng.randint(1, 999):03d}"
    if branch < 0.4:
        return f"{code}{rng.randint(1, 999):03d}"
    return code


def _vietnamese_order_name(rng: random.Random) -> str:
    source = fake(rng)
    return f"{source.last_name()} {source.middle_name()} {vi_given_name(rng)}"


def gen_name_with_marks(rng: random.Random) -> str:
    return _vietnamese_order_name(rng)


def gen_name_without_marks(rng: random.Random) -> str:
    name = fold(_vietnamese_order_name(rng))
    return name.upper() if rng.random() < 0.2 else name


def gen_faker_name(rng: random.Random) -> str:
    """Faker's own vi_VN names: given name first, sometimes with an honorific."""
    return str(fake(rng).name())


GENERATORS: dict[str, tuple[PiiKind, Callable[[random.Random], str]]] = {
    "cccd": (PiiKind.CCCD, gen_cccd),
    "cmnd": (PiiKind.CMND, gen_cmnd),
    "phone": (PiiKind.PHONE, gen_phone),
    "email": (PiiKind.EMAIL, gen_email),
    "tax_code": (PiiKind.TAX_CODE, gen_tax_code),
    "name_with_marks": (PiiKind.PERSON_NAME, gen_name_with_marks),
    "name_without_marks": (PiiKind.PERSON_NAME, gen_name_without_marks),
    "faker_name": (PiiKind.PERSON_NAME, gen_faker_name),
}


# --- realistic non-personal columns --------------------------------------------------------


def gen_amount(rng: random.Random) -> str:
    style = rng.random()
    if style < 0.4:
        return str(rng.randint(10_000, 50_000_000))
    if style < 0.6:
        return f"{rng.randint(1_000, 99_000_000)}.{rng.randint(0, 99):02d}"
    if style < 0.8:
        return f"{rng.randint(100_000, 900_000_000):,}.{rng.randint(0, 99):02d}"
    return str(rng.randint(100, 999) * 1_000_000)


def gen_date(rng: random.Random) -> str:
    y, m, d = rng.randint(2015, 2025), rng.randint(1, 12), rng.randint(1, 28)
    return f"{y}-{m:02d}-{d:02d}" if rng.random() < 0.5 else f"{d:02d}/{m:02d}/{y}"


def gen_product_code(rng: random.Random) -> str:
    head = rng.choice(["000", "099", str(rng.randint(100, 999))])
    return f"{head}{rng.randint(0, 999_999_999):09d}"


BACKGROUND: dict[str, Callable[[random.Random], str]] = {
    "so_tien": gen_amount,
    "ngay": gen_date,
    "nam": lambda rng: str(rng.randint(1990, 2025)),
    "tinh": lambda rng: rng.choice(PROVINCES),
    "nganh": lambda rng: rng.choice(SECTORS),
    "ty_le": lambda rng: f"{rng.uniform(0, 100):.1f}%",
    "ma_san_pham": gen_product_code,
    "ma_buu_chinh": lambda rng: rng.choice([f"{rng.randint(10000, 99999)}", "100000", "700000"]),
    "so_luong": lambda rng: str(rng.randint(0, 5000)),
    "ma_vach": lambda rng: f"893{rng.randint(0, 9_999_999_999):010d}",
    "dan_so": lambda rng: f"{rng.randint(50_000, 9_000_000)}",
}


def write_csv(path: Path, columns: dict[str, list[str]]) -> None:
    names = list(columns)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(names)
        writer.writerows(zip(*(columns[n] for n in names), strict=True))


def background(rng: random.Random, rows: int = ROWS) -> dict[str, list[str]]:
    return {name: [gen(rng) for _ in range(rows)] for name, gen in BACKGROUND.items()}


def scan_csv(path: Path, classes: dict[str, str]) -> InspectionReport:
    return inspect(sample_columns(path, "csv", list(classes.items()), max_rows=ROWS))


def hidden_column(
    rng: random.Random, gen: Callable[[random.Random], str], share: float
) -> list[str]:
    return [gen(rng) if rng.random() < share else "" for _ in range(ROWS)]


# --- the scan on whole files ---------------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_realistic_non_personal_columns_pass(tmp_path: Path, seed: int) -> None:
    path = tmp_path / "data.csv"
    write_csv(path, background(random.Random(seed)))

    report = scan_csv(path, dict.fromkeys(BACKGROUND, "attribute"))

    assert report.findings == ()
    assert report.passed
    assert report.columns_scanned == tuple(BACKGROUND)
    assert report.rows_sampled == ROWS


@pytest.mark.parametrize("seed", [11, 12])
@pytest.mark.parametrize("generator", sorted(GENERATORS))
def test_hidden_personal_column_fails_with_exactly_that_pattern(
    tmp_path: Path, generator: str, seed: int
) -> None:
    rng = random.Random(seed)
    kind, gen = GENERATORS[generator]
    columns = background(rng)
    columns[HIDDEN] = hidden_column(rng, gen, share=0.6)
    path = tmp_path / "data.csv"
    write_csv(path, columns)
    classes = {**dict.fromkeys(BACKGROUND, "attribute"), HIDDEN: "attribute"}

    report = scan_csv(path, classes)

    assert not report.passed
    assert [(f.column, f.pattern) for f in report.findings] == [(HIDDEN, kind)]
    finding = report.findings[0]
    assert finding.non_empty == sum(1 for v in columns[HIDDEN] if v)
    assert finding.share == pytest.approx(finding.matched / finding.non_empty)
    assert finding.share > 0.9
    assert 1 <= len(finding.examples) <= 3


@pytest.mark.parametrize("generator", sorted(GENERATORS))
def test_same_column_declared_as_direct_identifier_passes(tmp_path: Path, generator: str) -> None:
    rng = random.Random(21)
    _, gen = GENERATORS[generator]
    columns = background(rng)
    columns[HIDDEN] = hidden_column(rng, gen, share=1.0)
    path = tmp_path / "data.csv"
    write_csv(path, columns)
    classes = {**dict.fromkeys(BACKGROUND, "attribute"), HIDDEN: "direct_identifier"}

    report = scan_csv(path, classes)

    assert report.passed
    assert report.findings == ()
    assert HIDDEN not in report.columns_scanned


@pytest.mark.parametrize("classification", ["quasi_identifier", "sensitive"])
def test_other_classifications_are_scanned_too(tmp_path: Path, classification: str) -> None:
    rng = random.Random(5)
    columns = background(rng)
    columns[HIDDEN] = hidden_column(rng, gen_phone, share=1.0)
    path = tmp_path / "data.csv"
    write_csv(path, columns)

    report = scan_csv(path, {**dict.fromkeys(BACKGROUND, "attribute"), HIDDEN: classification})

    assert [(f.column, f.pattern) for f in report.findings] == [(HIDDEN, PiiKind.PHONE)]


@pytest.mark.parametrize("generator", sorted(GENERATORS))
def test_masked_examples_never_contain_a_full_value(tmp_path: Path, generator: str) -> None:
    rng = random.Random(31)
    _, gen = GENERATORS[generator]
    values = [gen(rng) for _ in range(2_000)]
    path = tmp_path / "data.csv"
    write_csv(path, {HIDDEN: values})

    report = scan_csv(path, {HIDDEN: "attribute"})

    examples = report.findings[0].examples
    assert examples
    for example in examples:
        assert not any(value.strip() in example for value in values), example
        assert "*" in example


def test_several_personal_columns_are_reported_by_share(tmp_path: Path) -> None:
    rng = random.Random(41)
    columns = background(rng)
    columns["lien_he"] = hidden_column(rng, gen_email, share=0.5)
    columns["so_dt"] = hidden_column(rng, gen_phone, share=1.0)
    columns["ghi_chu"] = [gen_cmnd(rng) if rng.random() < 0.3 else "đã xử lý" for _ in range(ROWS)]
    path = tmp_path / "data.csv"
    write_csv(path, columns)

    report = scan_csv(path, dict.fromkeys(columns, "attribute"))

    assert [(f.column, f.pattern) for f in report.findings] == [
        ("lien_he", PiiKind.EMAIL),
        ("so_dt", PiiKind.PHONE),
        ("ghi_chu", PiiKind.CMND),
    ]
    assert report.findings[0].share == 1.0  # empty cells are not counted
    assert report.findings[2].share == pytest.approx(0.3, abs=0.03)


# --- thresholds and mixed columns ----------------------------------------------------------


def mixed(rng: random.Random, gen: Callable[[random.Random], str], share: float) -> list[str]:
    filler = [*SECTORS, *PROVINCES, "không có", "n/a", "1250000"]
    return [gen(rng) if rng.random() < share else rng.choice(filler) for _ in range(ROWS)]


@pytest.mark.parametrize("generator", sorted(GENERATORS))
def test_mixed_column_below_threshold_gives_no_finding(generator: str) -> None:
    rng = random.Random(51)
    _, gen = GENERATORS[generator]
    sample = ColumnSample(HIDDEN, "attribute", mixed(rng, gen, share=0.12))

    assert inspect([sample]).passed


@pytest.mark.parametrize("generator", sorted(GENERATORS))
def test_mixed_column_above_threshold_is_a_finding(generator: str) -> None:
    rng = random.Random(52)
    kind, gen = GENERATORS[generator]
    sample = ColumnSample(HIDDEN, "attribute", mixed(rng, gen, share=0.3))

    report = inspect([sample])

    assert [(f.column, f.pattern) for f in report.findings] == [(HIDDEN, kind)]
    assert report.findings[0].share == pytest.approx(0.3, abs=0.04)


def test_threshold_is_configurable() -> None:
    rng = random.Random(53)
    sample = ColumnSample(HIDDEN, "attribute", mixed(rng, gen_email, share=0.3))

    assert not inspect([sample], threshold=0.2).passed
    assert inspect([sample], threshold=0.5).passed
    assert not inspect([sample], threshold=0.0).passed


def test_share_must_exceed_the_threshold() -> None:
    values = ["an@gmail.com", "Nông nghiệp", "Xây dựng", "Khai khoáng", "Y tế"]

    assert inspect([ColumnSample("c", "attribute", values)], threshold=0.2).passed
    assert not inspect([ColumnSample("c", "attribute", values)], threshold=0.19).passed


@pytest.mark.parametrize("threshold", [-0.1, 1.0, 1.5])
def test_threshold_outside_zero_to_one_is_refused(threshold: float) -> None:
    with pytest.raises(ValueError, match="threshold"):
        inspect([], threshold=threshold)


def test_empty_and_missing_values_are_not_counted() -> None:
    values: list[str | None] = [None, "", "   ", "0912345678", None, "Xây dựng"]

    report = inspect([ColumnSample("sdt", "attribute", values)])

    (finding,) = report.findings
    assert (finding.matched, finding.non_empty, finding.share) == (1, 2, 0.5)
    assert report.rows_sampled == 6


def test_all_empty_columns_and_no_columns_pass() -> None:
    assert inspect([ColumnSample("c", "attribute", [None, ""])]).passed
    assert inspect([]) == InspectionReport((), (), 0, True)


# --- precedence: one finding per column and pattern ---------------------------------------


def test_cccd_column_is_not_also_a_tax_code_or_phone_column() -> None:
    rng = random.Random(61)
    report = inspect([ColumnSample("so_id", "attribute", [gen_cccd(rng) for _ in range(ROWS)])])

    assert [f.pattern for f in report.findings] == [PiiKind.CCCD]
    assert report.findings[0].share == 1.0


def test_ho_chi_minh_city_tax_codes_are_tax_codes_not_phone_numbers() -> None:
    # HCMC tax codes begin 03, like Viettel mobiles: every one also reads as a phone number.
    rng = random.Random(62)
    codes: list[str] = []
    while len(codes) < 2_000:
        nine = f"03{rng.randint(1, 9_999_999):07d}"
        if tax_check_digit(nine) < 10:
            codes.append(f"{nine}{tax_check_digit(nine)}")
    assert all(is_phone(c) for c in codes)

    report = inspect([ColumnSample("mst", "attribute", codes)])

    assert [(f.pattern, f.share) for f in report.findings] == [(PiiKind.TAX_CODE, 1.0)]


def test_mobile_numbers_that_pass_the_tax_checksum_stay_phone_numbers() -> None:
    rng = random.Random(63)
    phones = [
        f"0{rng.choice(['3', '8', '9'])}{rng.randint(0, 99_999_999):08d}" for _ in range(5_000)
    ]
    assert any(is_tax_code(p) for p in phones)

    report = inspect([ColumnSample("sdt", "attribute", phones)])

    assert [(f.pattern, f.share) for f in report.findings] == [(PiiKind.PHONE, 1.0)]


def test_column_of_cmnd_and_cccd_reports_both() -> None:
    rng = random.Random(64)
    values = [gen_cccd(rng) if i % 2 else gen_cmnd(rng) for i in range(1_000)]

    report = inspect([ColumnSample("so_cmnd_cccd", "attribute", values)])

    assert sorted(f.pattern for f in report.findings) == [PiiKind.CCCD, PiiKind.CMND]


def test_findings_are_ordered_by_share_then_column() -> None:
    samples = [
        ColumnSample("b", "attribute", ["an@gmail.com", "x"] * 10),
        ColumnSample("a", "attribute", ["0912345678"] * 10),
        ColumnSample("c", "attribute", ["an@gmail.com", "x"] * 10),
    ]

    report = inspect(samples)

    assert [(f.column, f.share) for f in report.findings] == [("a", 1.0), ("b", 0.5), ("c", 0.5)]


def test_examples_are_distinct_masked_values_from_the_column() -> None:
    values = ["0912345678", "0912345678", "0987654321", "02838295555", "0356781234"]

    (finding,) = inspect([ColumnSample("sdt", "attribute", values)]).findings

    assert finding.examples == ["0****5678", "0****4321", "0****5555"]


# --- detectors -----------------------------------------------------------------------------


def test_cccd_province_table_has_the_63_pre_2025_codes() -> None:
    assert len(CCCD_PROVINCE_CODES) == 63
    assert CCCD_PROVINCE_CODES["001"] == "Hà Nội"
    assert CCCD_PROVINCE_CODES["079"] == "TP Hồ Chí Minh"
    assert CCCD_PROVINCE_CODES["096"] == "Cà Mau"
    for unused in ["000", "003", "005", "097", "099", "100"]:
        assert unused not in CCCD_PROVINCE_CODES


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("001090012345", True),
        ("079203004567", True),
        (" 096185999999 ", True),
        ("000090012345", False),  # no province 000
        ("099090012345", False),  # no province 099
        ("123090012345", False),
        ("001590012345", False),  # born in the 22nd century
        ("00109001234", False),
        ("0010900123456", False),
        ("001 090 012 345", False),
    ],
)
def test_is_cccd(value: str, expected: bool) -> None:
    assert is_cccd(value) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("012345678", True),
        ("381234567", True),
        ("001234567", False),
        ("391234567", False),
        ("125000000", False),  # a round amount
        ("01234567", False),
        ("0123456789", False),
    ],
)
def test_is_cmnd(value: str, expected: bool) -> None:
    assert is_cmnd(value) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0912345678", True),
        ("091 234 5678", True),
        ("091.234.5678", True),
        ("091-234-5678", True),
        ("+84912345678", True),
        ("+84 91 234 5678", True),
        ("(+84) 912 345 678", True),
        ("84912345678", True),
        ("0084912345678", True),
        ("0321234567", True),
        ("02438261234", True),
        ("024 3826 1234", True),
        ("(028) 3829 5678", True),
        ("+84 24 3826 1234", True),
        ("0112345678", False),  # 01x is no longer a mobile prefix
        ("0412345678", False),
        ("091234567", False),
        ("09123456789", False),
        ("0243826123", False),  # a landline needs 11 digits
        ("+1 912 345 678", False),
        ("1250000", False),
        ("15/01/2024", False),
        ("2024-01-15", False),
        ("12,500,000.50", False),
        ("03-05-2024 12:30", False),
    ],
)
def test_is_phone(value: str, expected: bool) -> None:
    assert is_phone(value) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("nguyen.van.an@gmail.com", True),
        ("an+tin@hanoi.gov.vn", True),
        ("A_B@fpt.edu.vn", True),
        ("an@gmail", False),
        ("@gmail.com", False),
        ("an gmail.com", False),
        ("an@@gmail.com", False),
    ],
)
def test_is_email(value: str, expected: bool) -> None:
    assert is_email(value) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0100107518", True),
        ("0100109106", True),
        ("0100109106-001", True),
        ("0100109106 - 012", True),
        ("0100109106012", True),
        ("0100109107", False),  # wrong check digit
        ("0100109106-000", False),
        ("0100000000", False),
        ("010010910", False),
        ("01001091060", False),
    ],
)
def test_is_tax_code(value: str, expected: bool) -> None:
    assert is_tax_code(value) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Nguyễn Văn An", True),
        ("Trần Thị Bích Ngọc", True),
        ("Huỳnh Tấn Phát", True),
        ("Võ Nguyên Giáp", True),
        ("Đỗ Mười", True),
        ("Lý Thường Kiệt", True),
        ("Nguyen Van An", True),
        ("NGUYỄN VĂN AN", True),
        ("nguyen thi mai", False),  # lower case: could be any phrase
        ("hồ sơ đã nộp", False),
        ("Lý do khác", False),
        ("đã xử lý", False),
        ("Tôn Nữ Hồng Nhung Anh", False),  # Tôn is not among the common surnames
        ("Thành Nguyễn", True),  # given name first, as Faker and some forms write it
        ("Ông Bảy Nguyễn", True),
        ("Quý cô Yến Trần", True),
        ("Nguyễn", False),
        ("Nguyễn Văn An Bình Minh Tâm", False),
        ("Hà Nội", False),
        ("TP Hồ Chí Minh", False),
        ("Thái Bình", False),
        ("Đường Láng", False),  # Đường (street) is not Dương
        ("Trần nhà bị dột", False),
        ("Do Not Disturb", False),
        ("Nông nghiệp", False),
        ("Nguyễn Văn 2", False),
        ("Hoàng Xuân John", True),  # marked surname: a foreign given name is still a name
        ("Hoang Xuan John", False),  # unmarked: every word must read as Vietnamese
    ],
)
def test_looks_like_person_name(value: str, expected: bool) -> None:
    assert looks_like_person_name(value) is expected


def test_decomposed_unicode_names_are_recognised() -> None:
    assert looks_like_person_name(unicodedata.normalize("NFD", "Phạm Thị Hương"))


@pytest.mark.parametrize(
    ("value", "kind", "expected"),
    [
        ("0912345678", PiiKind.PHONE, "0****5678"),
        ("+84 912 345 678", PiiKind.PHONE, "+84****5678"),
        ("nam@gmail.com", PiiKind.EMAIL, "n***@g***.com"),
        ("Nguyễn Văn An", PiiKind.PERSON_NAME, "Ng*** V** A**"),
        ("079203004567", PiiKind.CCCD, "079****67"),
        ("012345678", PiiKind.CMND, "01****78"),
        ("0100109106-001", PiiKind.TAX_CODE, "01****06-***"),
    ],
)
def test_mask(value: str, kind: PiiKind, expected: str) -> None:
    assert mask(value, kind) == expected


@given(st.text(max_size=30), st.sampled_from(list(PiiKind)))
@hypothesis_example("*", PiiKind.CCCD)
@hypothesis_example("***", PiiKind.EMAIL)
def test_mask_never_shows_a_whole_value(value: str, kind: PiiKind) -> None:
    assert value.strip() == "" or value.strip() not in mask(value, kind)


@given(
    st.one_of(
        st.text(max_size=25),
        st.text(alphabet="0123456789 +-.()", max_size=18),
        st.from_regex(r"0[2-9][0-9]{8,11}", fullmatch=True),
    )
)
def test_matching_kinds_agrees_with_each_detector(value: str) -> None:
    expected = {kind for kind, detector in DETECTORS.items() if detector(value)}
    assert matching_kinds(value) == expected


# --- nine-digit amounts are not identity-card numbers --------------------------------------


@pytest.mark.parametrize(
    ("low", "high"),
    [(100_000_000, 999_999_999), (1_000_000, 500_000_000), (10_000, 950_000_000)],
)
def test_amounts_in_the_hundreds_of_millions_are_not_cmnd(low: int, high: int) -> None:
    rng = random.Random(low)
    amounts = [str(rng.randint(low, high)) for _ in range(ROWS)]
    assert inspect([ColumnSample("so_tien", "attribute", amounts)]).passed


@pytest.mark.parametrize(
    "gen",
    [
        gen_cmnd,
        lambda rng: f"{rng.randint(0, 999_999_999):09d}",  # zero-padded at random
        lambda rng: str(rng.randint(100_000_000, 389_999_999)),  # no zero, but all 01-38
    ],
)
def test_cmnd_columns_stay_findings(gen: Callable[[random.Random], str]) -> None:
    rng = random.Random(7)
    report = inspect([ColumnSample(HIDDEN, "attribute", [gen(rng) for _ in range(ROWS)])])
    assert [f.pattern for f in report.findings] == [PiiKind.CMND]
