"""Sampling a data file's columns, as text, for the personal-data scan."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from services.catalog.adapters.sampling import SamplingError, sample_columns


def write_text(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def numbered_csv(path: Path, rows: int, *, late_column_from: int | None = None) -> Path:
    """Column ``n`` holds the row number; ``late`` is empty until row ``late_column_from``."""
    lines = ["n,late"]
    for i in range(rows):
        late = f"x{i}" if late_column_from is not None and i >= late_column_from else ""
        lines.append(f"{i},{late}")
    return write_text(path, "\n".join(lines) + "\n")


def test_csv_values_are_the_text_of_the_file(tmp_path: Path) -> None:
    path = write_text(
        tmp_path / "d.csv",
        'sdt,ma,so_tien,ghi_chu\n0912345678,001,1250000,"Nguyễn, Văn An"\n,007, 12.50 ,\n',
    )

    sdt, ma, so_tien, ghi_chu = sample_columns(
        path,
        "csv",
        [
            ("sdt", "attribute"),
            ("ma", "attribute"),
            ("so_tien", "attribute"),
            ("ghi_chu", "sensitive"),
        ],
    )

    assert sdt.values == ["0912345678", ""]
    assert ma.values == ["001", "007"]
    assert so_tien.values == ["1250000", " 12.50 "]
    assert ghi_chu.values == ["Nguyễn, Văn An", ""]
    assert (ghi_chu.name, ghi_chu.classification) == ("ghi_chu", "sensitive")


def test_samples_come_back_in_the_order_asked(tmp_path: Path) -> None:
    path = write_text(tmp_path / "d.csv", "a,b,c\n1,2,3\n")

    samples = sample_columns(path, "csv", [("c", "attribute"), ("a", "quasi_identifier")])

    assert [(s.name, s.values) for s in samples] == [("c", ["3"]), ("a", ["1"])]


def test_direct_identifier_columns_are_not_read(tmp_path: Path) -> None:
    path = write_text(tmp_path / "d.csv", "cccd,tinh\n001090012345,Hà Nội\n")

    cccd, tinh = sample_columns(path, "csv", [("cccd", "direct_identifier"), ("tinh", "attribute")])

    assert cccd.values == []
    assert tinh.values == ["Hà Nội"]


def test_small_file_is_read_whole_in_file_order(tmp_path: Path) -> None:
    path = numbered_csv(tmp_path / "d.csv", 500)

    (sample,) = sample_columns(path, "csv", [("n", "attribute")], max_rows=1_000)

    assert sample.values == [str(i) for i in range(500)]


def test_large_file_gives_a_uniform_sample_of_max_rows(tmp_path: Path) -> None:
    path = numbered_csv(tmp_path / "d.csv", 200_000)

    (sample,) = sample_columns(path, "csv", [("n", "attribute")], max_rows=2_000)

    rows = [int(v) for v in sample.values if v is not None]
    assert len(rows) == 2_000
    assert len(set(rows)) == 2_000
    assert rows == sorted(rows)
    # Every tenth of the file is represented about equally (expected 200 each).
    per_tenth = [sum(1 for r in rows if t * 20_000 <= r < (t + 1) * 20_000) for t in range(10)]
    assert all(140 <= count <= 260 for count in per_tenth), per_tenth


def test_a_column_filled_only_late_in_the_file_is_seen(tmp_path: Path) -> None:
    path = numbered_csv(tmp_path / "d.csv", 100_000, late_column_from=60_000)

    (late,) = sample_columns(path, "csv", [("late", "attribute")], max_rows=5_000)

    filled = sum(1 for v in late.values if v)
    assert 0.35 <= filled / len(late.values) <= 0.45


def test_same_file_and_seed_give_the_same_sample(tmp_path: Path) -> None:
    path = numbered_csv(tmp_path / "d.csv", 50_000)

    first = sample_columns(path, "csv", [("n", "attribute")], max_rows=1_000)
    again = sample_columns(path, "csv", [("n", "attribute")], max_rows=1_000)
    other = sample_columns(path, "csv", [("n", "attribute")], max_rows=1_000, seed=7)

    assert first == again
    assert first != other


def test_parquet_values_are_cast_to_text_and_nulls_kept(tmp_path: Path) -> None:
    path = tmp_path / "d.parquet"
    table = pa.table(
        {
            "sdt": pa.array(["0912345678", None, "0281234567"]),
            "so_luong": pa.array([1, 2, None], pa.int64()),
            "ty_le": pa.array([0.5, 1.25, 3.0]),
        }
    )
    pq.write_table(table, path)

    sdt, so_luong, ty_le = sample_columns(
        path, "parquet", [("sdt", "attribute"), ("so_luong", "attribute"), ("ty_le", "attribute")]
    )

    assert sdt.values == ["0912345678", None, "0281234567"]
    assert so_luong.values == ["1", "2", None]
    assert ty_le.values == ["0.5", "1.25", "3"]


def test_parquet_large_file_is_sampled(tmp_path: Path) -> None:
    path = tmp_path / "d.parquet"
    pq.write_table(pa.table({"n": pa.array(range(150_000))}), path, row_group_size=20_000)

    (sample,) = sample_columns(path, "parquet", [("n", "attribute")], max_rows=3_000)

    rows = [int(v) for v in sample.values if v is not None]
    assert len(set(rows)) == 3_000
    assert min(rows) < 5_000 and max(rows) > 145_000


def test_header_only_file_gives_empty_samples(tmp_path: Path) -> None:
    path = write_text(tmp_path / "d.csv", "a,b\n")

    samples = sample_columns(path, "csv", [("a", "attribute"), ("b", "attribute")])

    assert [s.values for s in samples] == [[], []]


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_missing_column_is_reported_by_name(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"d.{fmt}"
    if fmt == "csv":
        write_text(path, "a\n1\n")
    else:
        pq.write_table(pa.table({"a": [1]}), path)

    with pytest.raises(SamplingError, match="ghi_chu"):
        sample_columns(path, fmt, [("a", "attribute"), ("ghi_chu", "attribute")])  # type: ignore[arg-type]


def test_unknown_format_and_bad_max_rows_are_refused(tmp_path: Path) -> None:
    path = write_text(tmp_path / "d.csv", "a\n1\n")

    with pytest.raises(SamplingError, match="format"):
        sample_columns(path, "xlsx", [("a", "attribute")])  # type: ignore[arg-type]
    with pytest.raises(SamplingError, match="max_rows"):
        sample_columns(path, "csv", [("a", "attribute")], max_rows=0)
