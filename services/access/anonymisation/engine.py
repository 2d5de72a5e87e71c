"""Build a buyer's anonymised extract from a listing version's raw file.

Pass 1 profiles the quasi-identifier and sensitive columns (`profile`), the
search picks generalisation levels on those counts (`lattice`), pass 2 streams
the file into Parquet and CSV (`writer`), and an independent checker measures
the written extract (`verification`) before the files take their final names.
Identifiers kept as pseudonyms are hashed on a background thread meanwhile
(`pseudonymiser`). On any failure the partial files are removed and
`AnonymisationFailed` is raised.
"""

import shutil
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from services.access.anonymisation.class_keys import ClassKeyEncoder
from services.access.anonymisation.hierarchy_tables import HierarchySource, load_table
from services.access.anonymisation.ladders import Ladder, build_ladder
from services.access.anonymisation.lattice import NodeEvaluator, NodeSummary, search_levels
from services.access.anonymisation.profile import Profile, profile_source
from services.access.anonymisation.pseudonymiser import PseudonymColumns, write_pseudonyms
from services.access.anonymisation.source import SourceFormat, open_source
from services.access.anonymisation.verification import measure_extract
from services.access.anonymisation.writer import (
    BATCH_ROWS,
    ClassFilter,
    OutputColumn,
    write_extract,
)
from services.access.domain import (
    AdminLevel,
    AnonymisationFailed,
    ColumnRule,
    HierarchyTable,
    PrivacyFigures,
    PrivacyTargets,
    validate_column_rules,
)

ProgressCallback = Callable[[str, float], None]
"""Called with a stage (profile, search, write, verify) and its completed fraction."""

PARQUET_NAME = "extract.parquet"
CSV_NAME = "extract.csv"


@dataclass(frozen=True)
class ExtractResult:
    """The written extract files and what they achieve."""

    parquet_path: Path
    csv_path: Path
    rows_in: int
    rows_out: int
    figures: PrivacyFigures
    checked_by: tuple[str, ...] = ()
    """Which independent checkers measured the figures (pycanon only up to a size)."""


def build_extract(
    source: Path,
    source_format: SourceFormat,
    columns: Sequence[ColumnRule],
    targets: PrivacyTargets,
    pseudonym_key: bytes,
    out_dir: Path,
    hierarchies: Mapping[str, HierarchySource] | None = None,
    *,
    csv_delimiter: str | None = None,
    progress: ProgressCallback | None = None,
) -> ExtractResult:
    """Anonymise `source` into `out_dir`/extract.{parquet,csv} under `targets`.

    `pseudonym_key` is the grant's key (`domain.derive_grant_key`); `hierarchies`
    maps a table name (by default the column's) to an ARX hierarchy or an
    administrative mapping table (a file with a header row, or an Arrow table).
    """
    report = progress or (lambda _stage, _fraction: None)
    dataset = open_source(source, source_format, columns, csv_delimiter)
    validate_column_rules(columns, dataset.schema.names)
    quasi = [r for r in columns if r.classification == "quasi_identifier"]
    sensitive = [r.name for r in columns if r.classification == "sensitive"]
    tables = _hierarchy_tables(quasi, hierarchies or {})

    pseudonymised = [
        r.name for r in columns if r.classification == "direct_identifier" and r.keep_as_pseudonym
    ]

    out_dir.mkdir(parents=True, exist_ok=True)
    work_dir = Path(tempfile.mkdtemp(prefix=".extract-", dir=out_dir))
    stop = threading.Event()
    background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pseudonyms")
    try:
        pseudonym_file = work_dir / "pseudonyms.arrow"
        hashing: Future[int] | None = None
        if pseudonymised:
            hashing = background.submit(
                write_pseudonyms,
                dataset,
                pseudonymised,
                pseudonym_key,
                pseudonym_file,
                BATCH_ROWS,
                stop,
            )
        report("profile", 0.0)
        profile = profile_source(dataset, [r.name for r in quasi] + sensitive, work_dir)
        report("profile", 1.0)
        ladders = [
            build_ladder(r.name, profile.values[r.name], r.hint, tables.get(r.name)) for r in quasi
        ]
        evaluator = NodeEvaluator(profile, ladders, sensitive, targets)
        report("search", 0.0)
        best = search_levels(evaluator)
        report("search", 1.0)

        partial_parquet, partial_csv = work_dir / PARQUET_NAME, work_dir / CSV_NAME
        report("write", 0.0)
        pseudonyms = None
        if hashing is not None:
            hashing.result()
            pseudonyms = PseudonymColumns(pseudonym_file)
        written = write_extract(
            dataset,
            _output_columns(columns, ladders, best),
            _class_filter(evaluator, best),
            pseudonyms,
            partial_parquet,
            partial_csv,
            on_rows=lambda rows: report("write", rows / max(profile.row_count, 1)),
        )
        report("verify", 0.0)
        figures, checked_by = _verified_figures(
            partial_parquet,
            [r.name for r in quasi],
            sensitive,
            targets,
            best,
            profile,
            written.rows_out,
        )
        report("verify", 1.0)
        parquet_path, csv_path = out_dir / PARQUET_NAME, out_dir / CSV_NAME
        partial_parquet.replace(parquet_path)
        partial_csv.replace(csv_path)
    finally:
        stop.set()
        background.shutdown(wait=True)
        shutil.rmtree(work_dir, ignore_errors=True)
    return ExtractResult(
        parquet_path, csv_path, written.rows_in, written.rows_out, figures, checked_by
    )


def _hierarchy_tables(
    quasi: Sequence[ColumnRule], hierarchies: Mapping[str, HierarchySource]
) -> dict[str, pa.Table]:
    tables = {}
    for rule in quasi:
        if not isinstance(rule.hint, AdminLevel | HierarchyTable):
            continue
        name = rule.hierarchy_name()
        if name not in hierarchies:
            raise AnonymisationFailed("invalid_rules", f"no hierarchy {name!r} for {rule.name!r}")
        has_header = isinstance(rule.hint, AdminLevel)
        tables[rule.name] = load_table(hierarchies[name], has_header=has_header, name=name)
    return tables


def _output_columns(
    rules: Sequence[ColumnRule], ladders: Sequence[Ladder], best: NodeSummary
) -> list[OutputColumn]:
    level_of = {
        ladder.column: (ladder, level) for ladder, level in zip(ladders, best.levels, strict=True)
    }
    outputs = []
    for rule in rules:
        if rule.classification == "direct_identifier":
            if rule.keep_as_pseudonym:
                outputs.append(OutputColumn(rule.name, "pseudonymise"))
        elif rule.classification == "quasi_identifier":
            ladder, level = level_of[rule.name]
            outputs.append(OutputColumn(rule.name, "generalise", ladder, level))
        else:
            outputs.append(OutputColumn(rule.name, "keep"))
    return outputs


def _class_filter(evaluator: NodeEvaluator, best: NodeSummary) -> ClassFilter:
    codes = evaluator.generalised_codes(best.levels)
    cardinalities = [
        lad.cardinalities[lv] for lad, lv in zip(evaluator.ladders, best.levels, strict=True)
    ]
    encoder, keys = ClassKeyEncoder.learn(codes, cardinalities, evaluator.profile.groups)
    released = np.unique(keys[evaluator.kept_groups(best.levels)])
    class_filter = ClassFilter(evaluator.ladders, best.levels, encoder, released)
    _ = class_filter.released_table  # built once here, not by racing writer threads
    return class_filter


def _verified_figures(
    parquet_path: Path,
    quasi: Sequence[str],
    sensitive: Sequence[str],
    targets: PrivacyTargets,
    best: NodeSummary,
    profile: Profile,
    rows_out: int,
) -> tuple[PrivacyFigures, tuple[str, ...]]:
    measured = measure_extract(parquet_path, quasi, sensitive)
    rows_in = profile.row_count
    suppression = (rows_in - measured.rows) / rows_in if rows_in else 0.0
    problems = []
    if measured.rows != rows_out or measured.rows == 0:
        problems.append(f"{measured.rows} rows read back, {rows_out} written")
    if measured.k < targets.k:
        problems.append(f"k={measured.k} < {targets.k}")
    if measured.l is not None and measured.l < targets.l:
        problems.append(f"ℓ={measured.l} < {targets.l}")
    if suppression > targets.max_suppression + 1e-12:
        problems.append(f"suppressed {suppression:.2%} > {targets.max_suppression:.2%}")
    if problems:
        raise AnonymisationFailed("verification_failed", "; ".join(problems))
    figures = PrivacyFigures(
        k=measured.k,
        l=measured.l,
        suppression_share=suppression,
        # Summation order follows DuckDB's group order: keep only stable digits.
        information_loss=round(best.information_loss, 9),
        levels={name: level for name, level in zip(quasi, best.levels, strict=True)},
    )
    return figures, measured.checkers
