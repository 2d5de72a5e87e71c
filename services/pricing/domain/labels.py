"""Bilingual (Vietnamese, English) labels of quote lines."""

from __future__ import annotations

from decimal import Decimal

from services.pricing.domain.money import format_factor, format_percent
from services.pricing.domain.primitives import Product, Segment, UpdateFrequency

Label = tuple[str, str]

SEGMENT_NAMES: dict[Segment, Label] = {
    Segment.STANDARD: ("khách hàng thông thường", "standard buyer"),
    Segment.STARTUP: ("doanh nghiệp khởi nghiệp sáng tạo", "registered startup"),
    Segment.SME: ("doanh nghiệp nhỏ và vừa", "small or medium enterprise"),
    Segment.RESEARCH_EDUCATION: ("nghiên cứu, giáo dục", "research and education"),
    Segment.PUBLIC_INTEREST: ("mục đích công cộng", "public interest"),
    Segment.FOREIGN: ("tổ chức nước ngoài", "foreign organisation"),
}

PRODUCT_NAMES: dict[Product, Label] = {
    Product.DOWNLOAD: ("tải xuống bản trích xuất", "downloadable extract"),
    Product.SANDBOX: ("truy vấn trong môi trường phân tích", "sandbox queries"),
}

FREQUENCY_NAMES: dict[UpdateFrequency, Label] = {
    UpdateFrequency.DAILY: ("hằng ngày", "daily"),
    UpdateFrequency.WEEKLY: ("hằng tuần", "weekly"),
    UpdateFrequency.MONTHLY: ("hằng tháng", "monthly"),
    UpdateFrequency.QUARTERLY: ("hằng quý", "quarterly"),
    UpdateFrequency.YEARLY: ("hằng năm", "yearly"),
    UpdateFrequency.IRREGULAR: ("không định kỳ", "irregular"),
    UpdateFrequency.ONCE: ("một lần", "once"),
}


def _grouped(number: int, separator: str) -> str:
    return f"{number:,}".replace(",", separator)


def rows(count: int) -> Label:
    return (
        f"Giá trị theo số dòng ({_grouped(count, '.')} dòng)",
        f"Value by rows ({_grouped(count, ',')} rows)",
    )


def columns(count: int) -> Label:
    return (
        f"Giá trị theo số cột ({count} cột, không tính cột định danh trực tiếp)",
        f"Value by columns ({count} columns, direct identifiers excluded)",
    )


def factor(vi: str, en: str, value: Decimal) -> Label:
    shown = format_factor(value)
    return (f"{vi} ×{shown}", f"{en} ×{shown}")


def freshness(frequency: UpdateFrequency, stale: bool, value: Decimal) -> Label:
    vi_name, en_name = FREQUENCY_NAMES[frequency]
    vi_note, en_note = (", quá hạn cập nhật", ", overdue for update") if stale else ("", "")
    return factor(f"Hệ số cập nhật ({vi_name}{vi_note})", f"Freshness ({en_name}{en_note})", value)


def coverage(province_count: int, value: Decimal) -> Label:
    if province_count == 0:
        return factor("Hệ số phạm vi (toàn quốc)", "Coverage (national)", value)
    return factor(
        f"Hệ số phạm vi ({province_count} tỉnh/thành phố)",
        f"Coverage ({province_count} province{'' if province_count == 1 else 's'})",
        value,
    )


def product(which: Product, value: Decimal) -> Label:
    vi_name, en_name = PRODUCT_NAMES[which]
    return factor(f"Hình thức truy cập: {vi_name}", f"Access product: {en_name}", value)


def duration(days: int, value: Decimal) -> Label:
    return factor(f"Thời hạn truy cập {days} ngày", f"Access for {days} days", value)


def protection(columns_protected: int) -> Label:
    return (
        f"Chi phí bảo vệ dữ liệu (ẩn danh hoá {columns_protected} cột)",
        f"Data protection cost (anonymising {columns_protected} columns)",
    )


def segment_discount(segment: Segment, rate: Decimal) -> Label:
    vi_name, en_name = SEGMENT_NAMES[segment]
    shown = format_percent(rate)
    return (f"Ưu đãi đối tượng {vi_name} ({shown})", f"Discount for {en_name} ({shown})")


def loyalty_discount(prior_orders: int, rate: Decimal) -> Label:
    shown = format_percent(rate)
    return (
        f"Ưu đãi khách hàng thường xuyên ({prior_orders} đơn đã thanh toán, {shown})",
        f"Loyalty discount ({prior_orders} prior paid orders, {shown})",
    )


def with_rate(label: Label, rate: Decimal) -> Label:
    shown = format_percent(rate)
    return (f"{label[0]} ({shown})", f"{label[1]} ({shown})")


def share(name: str, rate: Decimal) -> Label:
    shown = format_percent(rate)
    vi, en = {
        "platform": ("Phí nền tảng sàn giao dịch", "Exchange platform fee"),
        "agency": ("Phần của cơ quan cung cấp dữ liệu", "Publishing agency share"),
        "state_budget": ("Phần nộp ngân sách nhà nước", "State budget share"),
    }[name]
    return (f"{vi} ({shown} giá chưa thuế)", f"{en} ({shown} of the net)")


LIST_PRICE: Label = (
    "Điều chỉnh theo giá niêm yết của đơn vị cung cấp",
    "Adjustment to the provider's list price",
)
MAXIMUM_CHARGE: Label = ("Áp dụng mức giá tối đa", "Maximum charge applied")
MINIMUM_CHARGE: Label = ("Bù đủ mức thu tối thiểu", "Top-up to the minimum charge")
WAIVER: Label = ("Miễn phí vì mục đích công cộng", "Public-interest waiver")
TOTAL: Label = ("Tổng cộng (đã gồm thuế GTGT)", "Total (VAT included)")
CAPPED_NOTE: Label = ("giới hạn bởi mức ưu đãi tối đa", "limited by the discount cap")


def rounding(step: int) -> Label:
    return (
        f"Làm tròn đến {_grouped(step, '.')} đồng",
        f"Rounding to {_grouped(step, ',')} đồng",
    )


def vat(rate: Decimal) -> Label:
    shown = format_percent(rate)
    return (f"Thuế giá trị gia tăng ({shown})", f"Value added tax ({shown})")
