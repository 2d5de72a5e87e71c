"""Shared pieces of event schemas."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Frozen(BaseModel):
    """A frozen value object inside an event payload."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class RevenueSplit(Frozen):
    """How a paid total divides (integer đồng; the four parts sum to the total)."""

    platform_fee: int
    agency_share: int
    budget_share: int
    vat: int
