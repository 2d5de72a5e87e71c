"""Typed failure of an extract build: nothing is released when it is raised."""

from typing import Literal

FailureReason = Literal[
    "invalid_rules",
    "unreadable_source",
    "targets_unreachable",
    "verification_failed",
]


class AnonymisationFailed(Exception):
    """The extract could not be built to the listing's privacy targets.

    `reason` is a stable code for events and refunds; `detail` says what went wrong.
    """

    def __init__(self, reason: FailureReason, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason: FailureReason = reason
        self.detail = detail
