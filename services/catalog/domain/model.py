"""The listing aggregate: DCAT-style metadata, a classified column schema, versions.

Pure domain: validation rules and lifecycle transitions, no I/O.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Annotated, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from services.catalog.domain.errors import InspectionBlocked, InvalidTransition
from services.catalog.domain.reference import (
    CLASSIFICATIONS,
    COLUMN_TYPES,
    LICENCES,
    PROVINCES,
    THEMES,
    UPDATE_FREQUENCIES,
)
from services.contracts.catalog import ALL_PURPOSES, ApprovalMode, Purpose

Status = Literal["draft", "published", "retired"]
Classification = Literal["direct_identifier", "quasi_identifier", "sensitive", "attribute"]
ColumnType = Literal["string", "integer", "number", "boolean", "date", "datetime"]
Product = Literal["download", "sandbox"]

ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=10_000)]
Keyword = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)]
ColumnName = Annotated[str, StringConstraints(min_length=1, max_length=120)]

MAX_COLUMNS = 500
MAX_HIERARCHY_ROWS = 20_000

assert set(CLASSIFICATIONS) == {"direct_identifier", "quasi_identifier", "sensitive", "attribute"}
assert set(COLUMN_TYPES) == {"string", "integer", "number", "boolean", "date", "datetime"}


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class GeneralisationHint(_Frozen):
    """How a quasi-identifier may be coarsened to reach k-anonymity.

    ``numeric_bands``: band ``widths`` from fine to coarse; ``date_truncation``:
    ``levels`` among month/year/decade; ``admin_level`` and ``hierarchy``: a
    ``table`` whose rows are a value followed by its ever-coarser generalisations
    (the ARX hierarchy format).
    """

    kind: Literal["numeric_bands", "date_truncation", "admin_level", "hierarchy"]
    widths: list[Annotated[float, Field(gt=0)]] | None = None
    levels: list[Literal["month", "year", "decade"]] | None = None
    table: list[list[Annotated[str, StringConstraints(max_length=200)]]] | None = None

    @model_validator(mode="after")
    def _shape_fits_kind(self) -> GeneralisationHint:
        if self.kind == "numeric_bands":
            if not self.widths:
                raise ValueError("numeric_bands needs 'widths', e.g. [5, 10, 20]")
            if any(b <= a for a, b in zip(self.widths, self.widths[1:], strict=False)):
                raise ValueError("numeric_bands 'widths' must increase")
        elif self.kind == "date_truncation":
            if not self.levels:
                raise ValueError("date_truncation needs 'levels', e.g. ['month', 'year']")
        else:
            if not self.table:
                raise ValueError(f"{self.kind} needs a 'table' of value -> generalisations rows")
            if len(self.table) > MAX_HIERARCHY_ROWS:
                raise ValueError(f"hierarchy 'table' has more than {MAX_HIERARCHY_ROWS} rows")
            width = len(self.table[0])
            if width < 2:
                raise ValueError("hierarchy rows need a value and at least one generalisation")
            for index, row in enumerate(self.table):
                if len(row) != width:
                    raise ValueError(f"hierarchy row {index + 1} has {len(row)} cells, not {width}")
        return self


class Column(_Frozen):
    """One column of the data: its name, type and privacy classification."""

    name: ColumnName
    type: ColumnType
    classification: Classification
    description: LongText = ""
    hint: GeneralisationHint | None = None
    keep_as_pseudonym: bool = False

    @model_validator(mode="after")
    def _hint_only_for_quasi_identifiers(self) -> Column:
        if self.hint is not None and self.classification != "quasi_identifier":
            raise ValueError("a generalisation hint is only allowed on a quasi_identifier")
        if self.keep_as_pseudonym and self.classification != "direct_identifier":
            raise ValueError("keep_as_pseudonym is only allowed on a direct_identifier")
        return self


class Schema(_Frozen):
    """The ordered, classified columns of every version of a listing."""

    columns: list[Column] = Field(min_length=1, max_length=MAX_COLUMNS)

    @field_validator("columns")
    @classmethod
    def _unique_names(cls, columns: list[Column]) -> list[Column]:
        seen: set[str] = set()
        for column in columns:
            folded = column.name.strip().casefold()
            if folded in seen:
                raise ValueError(f"duplicate column name {column.name!r}")
            seen.add(folded)
        return columns

    def names(self) -> list[str]:
        return [column.name for column in self.columns]

    def classification_counts(self) -> dict[str, int]:
        counts = dict.fromkeys(CLASSIFICATIONS, 0)
        for column in self.columns:
            counts[column.classification] += 1
        return counts


class TemporalCoverage(_Frozen):
    start: date
    end: date | None = None

    @model_validator(mode="after")
    def _ordered(self) -> TemporalCoverage:
        if self.end is not None and self.end < self.start:
            raise ValueError("temporal coverage 'end' is before 'start'")
        return self


def _default_products() -> list[Product]:
    return ["download"]


def _all_purposes() -> list[Purpose]:
    return list(ALL_PURPOSES)


#: Upper bounds that keep a listing usable: beyond them no extract or aggregate survives.
MAX_MIN_K = 1_000
MAX_MIN_GROUP_SIZE = 100_000


class ListingMetadata(_Frozen):
    """DCAT-style description of a dataset, in Vietnamese and English."""

    title_vi: ShortText
    title_en: ShortText
    description_vi: LongText = ""
    description_en: LongText = ""
    keywords: list[Keyword] = Field(default_factory=list, max_length=30)
    theme: str
    provinces: list[str] = Field(default_factory=list, max_length=34)
    temporal: TemporalCoverage | None = None
    update_frequency: str = "irregular"
    licence: str = "vndx-restricted-1.0"
    products: list[Product] = Field(default_factory=_default_products, min_length=1)
    list_price: int | None = Field(default=None, ge=0, le=10_000_000_000_000)
    contact_email: Annotated[str, StringConstraints(max_length=200)] | None = None
    # Usage terms: what the listing's ODRL offer permits and how an order is decided.
    allowed_purposes: list[Purpose] = Field(default_factory=_all_purposes, min_length=1)
    approval: ApprovalMode = "automatic"
    min_k: int | None = Field(default=None, ge=2, le=MAX_MIN_K)
    min_group_size: int | None = Field(default=None, ge=2, le=MAX_MIN_GROUP_SIZE)
    buyer_may_terminate: bool = True

    @field_validator("theme")
    @classmethod
    def _known_theme(cls, theme: str) -> str:
        if theme not in THEMES:
            raise ValueError(f"unknown theme {theme!r}; one of: {', '.join(THEMES)}")
        return theme

    @field_validator("provinces")
    @classmethod
    def _known_provinces(cls, provinces: list[str]) -> list[str]:
        for code in provinces:
            if code not in PROVINCES:
                raise ValueError(f"unknown province {code!r}; use a code such as 'ha-noi'")
        if len(set(provinces)) != len(provinces):
            raise ValueError("a province is listed twice")
        return provinces

    @field_validator("update_frequency")
    @classmethod
    def _known_frequency(cls, value: str) -> str:
        if value not in UPDATE_FREQUENCIES:
            raise ValueError(
                f"unknown update frequency {value!r}; one of: {', '.join(UPDATE_FREQUENCIES)}"
            )
        return value

    @field_validator("licence")
    @classmethod
    def _known_licence(cls, value: str) -> str:
        if value not in LICENCES:
            raise ValueError(f"unknown licence {value!r}; one of: {', '.join(LICENCES)}")
        return value

    @field_validator("allowed_purposes")
    @classmethod
    def _distinct_purposes(cls, purposes: list[Purpose]) -> list[Purpose]:
        if len(set(purposes)) != len(purposes):
            raise ValueError("a purpose is listed twice")
        # One order for one set, so that equal terms always give the same policy document.
        return [p for p in ALL_PURPOSES if p in purposes]

    @field_validator("products")
    @classmethod
    def _distinct_products(cls, products: list[Product]) -> list[Product]:
        if len(set(products)) != len(products):
            raise ValueError("a product is listed twice")
        return products


class ColumnStats(_Frozen):
    name: str
    null_ratio: float
    valid_ratio: float


class FindingFacts(_Frozen):
    """Personal data found in a column of a version; examples are masked."""

    column: str
    pattern: str
    share: float
    matched: int
    non_empty: int
    examples: list[str]


class InspectionFacts(_Frozen):
    """The personal-data scan of one version (on a sample of its rows)."""

    findings: list[FindingFacts]
    columns_scanned: list[str]
    rows_sampled: int
    threshold: float
    inspected_at: AwareDatetime


class Review(_Frozen):
    """An operator's decision on a version of a listing with sensitive columns."""

    version: int
    decision: Literal["approve", "reject"]
    note: str
    by_org: str
    at: AwareDatetime


class VersionFacts(_Frozen):
    """What was measured when a version was uploaded."""

    version: int
    format: Literal["csv", "parquet"]
    object_key: str
    size_bytes: int
    sha256: str
    row_count: int
    columns: list[ColumnStats]
    completeness: float
    validity: float
    freshness: float
    quality_score: float
    created_at: AwareDatetime
    inspection: InspectionFacts | None = None


class Listing(BaseModel):
    """A dataset offered on the exchange by one organisation."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    org: str
    status: Status = "draft"
    metadata: ListingMetadata
    schema_: Schema = Field(alias="schema")
    versions: list[VersionFacts] = Field(default_factory=list)
    reviews: list[Review] = Field(default_factory=list)
    created_at: AwareDatetime = Field(default_factory=lambda: datetime.now(UTC))
    updated_at: AwareDatetime = Field(default_factory=lambda: datetime.now(UTC))
    published_at: AwareDatetime | None = None

    @property
    def latest_version(self) -> VersionFacts | None:
        return self.versions[-1] if self.versions else None

    def next_version_number(self) -> int:
        return len(self.versions) + 1

    def _touch(self) -> None:
        self.updated_at = datetime.now(UTC)

    def update(self, metadata: ListingMetadata, schema: Schema | None) -> None:
        """New metadata; once data is uploaded, columns may only be reclassified."""
        if self.status == "retired":
            raise InvalidTransition("a retired listing cannot be changed")
        if schema is not None and schema != self.schema_:
            shape = [(c.name, c.type) for c in schema.columns]
            if self.versions and shape != [(c.name, c.type) for c in self.schema_.columns]:
                raise InvalidTransition(
                    "column names and types are fixed once data is uploaded; "
                    "only classifications may change",
                    field="columns",
                )
            self.schema_ = schema
        self.metadata = metadata
        self._touch()

    def add_version(self, facts: VersionFacts) -> None:
        if self.status == "retired":
            raise InvalidTransition("a retired listing takes no new versions")
        if facts.version != self.next_version_number():
            raise InvalidTransition(f"version {facts.version} is not the next one")
        self.versions.append(facts)
        self._touch()

    def blocking_findings(self, version: VersionFacts | None = None) -> list[FindingFacts]:
        """Findings of a version (the latest by default) on columns not declared direct identifiers."""
        version = version or self.latest_version
        if version is None or version.inspection is None:
            return []
        direct = {c.name for c in self.schema_.columns if c.classification == "direct_identifier"}
        return [f for f in version.inspection.findings if f.column not in direct]

    def _approved(self, version: VersionFacts) -> bool:
        decisions = [r for r in self.reviews if r.version == version.version]
        return bool(decisions) and decisions[-1].decision == "approve"

    def released_version(self) -> VersionFacts | None:
        """The newest version buyers may get: inspected clean and, if needed, approved.

        A version uploaded to a published listing stays unreleased, and buyers keep the
        previous one, until its findings are resolved and its operator review is approved.
        """
        for version in reversed(self.versions):
            if self.blocking_findings(version):
                continue
            if self.needs_review() and not self._approved(version):
                continue
            return version
        return None

    def needs_review(self) -> bool:
        """Listings with sensitive columns need an operator's approval per version."""
        return any(c.classification == "sensitive" for c in self.schema_.columns)

    def review_status(self) -> Literal["not_required", "pending", "approved", "rejected"]:
        if not self.needs_review():
            return "not_required"
        latest = self.latest_version
        decisions = [r for r in self.reviews if latest and r.version == latest.version]
        if not decisions:
            return "pending"
        return "approved" if decisions[-1].decision == "approve" else "rejected"

    def review(self, decision: Literal["approve", "reject"], note: str, by_org: str) -> Review:
        latest = self.latest_version
        if latest is None:
            raise InvalidTransition("there is no version to review")
        if not self.needs_review():
            raise InvalidTransition("this listing has no sensitive columns; no review is needed")
        if decision == "approve" and self.blocking_findings():
            raise InspectionBlocked(self.blocking_findings())
        review = Review(
            version=latest.version,
            decision=decision,
            note=note,
            by_org=by_org,
            at=datetime.now(UTC),
        )
        self.reviews.append(review)
        self._touch()
        return review

    def publish(self) -> None:
        if self.status == "retired":
            raise InvalidTransition("a retired listing cannot be published again")
        if self.status == "published":
            raise InvalidTransition("the listing is already published")
        if not self.versions:
            raise InvalidTransition("upload a data version before publishing")
        if self.blocking_findings():
            raise InspectionBlocked(self.blocking_findings())
        status = self.review_status()
        if status in ("pending", "rejected"):
            raise InvalidTransition(
                f"the latest version has sensitive columns and its operator review is {status}"
            )
        self.status = "published"
        self.published_at = datetime.now(UTC)
        self._touch()

    def retire(self) -> None:
        if self.status == "retired":
            raise InvalidTransition("the listing is already retired")
        self.status = "retired"
        self._touch()
