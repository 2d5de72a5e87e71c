"""Privacy targets a listing asks for, and the figures an extract achieved."""

from pydantic import BaseModel, ConfigDict, Field


class PrivacyTargets(BaseModel):
    """k-anonymity, distinct ℓ-diversity and the share of rows that may be suppressed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    k: int = Field(default=5, ge=1)
    l: int = Field(default=2, ge=1)  # noqa: E741 - ℓ is the literature's name
    max_suppression: float = Field(default=0.05, ge=0.0, lt=1.0)


class PrivacyFigures(BaseModel):
    """What the released extract achieves, as measured by the independent checker.

    `l` is None when the extract has no sensitive column. `information_loss` is the
    loss metric (0 = raw data, 1 = everything suppressed) described in
    `services.access.anonymisation.lattice`. `levels` maps each quasi-identifier
    to the generalisation level applied (0 = original values).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    k: int
    l: int | None  # noqa: E741
    suppression_share: float
    information_loss: float
    levels: dict[str, int]
