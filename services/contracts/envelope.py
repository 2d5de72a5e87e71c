"""The CloudEvents envelope and the base class of every event payload.

A payload class declares its versioned CloudEvents ``type`` and its topic; the
registry maps a type string back to its class so that consumers can parse what
they receive. Payloads are frozen and forbid unknown fields: a breaking change
is a new ``.vN`` type, never an edit of an existing one.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

TYPE_PREFIX = "vn.vndx."
SPECVERSION = "1.0"


class EventPayload(BaseModel):
    """Base of every event's ``data``: frozen, strict about unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_type: ClassVar[str]
    topic: ClassVar[str]

    def aggregate_id(self) -> str:
        """The Kafka key: the id of the aggregate this event is about."""
        raise NotImplementedError


_REGISTRY: dict[str, type[EventPayload]] = {}


def register(cls: type[EventPayload]) -> type[EventPayload]:
    """Class decorator: make ``cls`` parseable from its CloudEvents type."""
    if not cls.event_type.startswith(TYPE_PREFIX):
        raise ValueError(f"event type {cls.event_type!r} must start with {TYPE_PREFIX!r}")
    existing = _REGISTRY.get(cls.event_type)
    if existing is not None and existing is not cls:
        raise ValueError(f"event type {cls.event_type!r} registered twice")
    _REGISTRY[cls.event_type] = cls
    return cls


def payload_class(event_type: str) -> type[EventPayload] | None:
    """The payload class registered for ``event_type``, if any."""
    return _REGISTRY.get(event_type)


def registered_types() -> list[str]:
    """All registered event types, sorted."""
    return sorted(_REGISTRY)


class Envelope(BaseModel):
    """A CloudEvents 1.0 event as it travels between services."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    source: str
    type: str
    specversion: str = SPECVERSION
    time: AwareDatetime = Field(default_factory=lambda: datetime.now(UTC))
    subject: str
    datacontenttype: str = "application/json"
    data: dict[str, Any]
    traceparent: str | None = None

    @classmethod
    def wrap(
        cls,
        payload: EventPayload,
        *,
        source: str,
        traceparent: str | None = None,
        event_id: str | None = None,
        time: datetime | None = None,
    ) -> Envelope:
        """Put ``payload`` in an envelope addressed by its aggregate id."""
        return cls(
            id=event_id or str(uuid.uuid4()),
            source=source,
            type=payload.event_type,
            subject=payload.aggregate_id(),
            time=time or datetime.now(UTC),
            data=payload.model_dump(mode="json"),
            traceparent=traceparent,
        )

    def payload(self) -> EventPayload:
        """Parse ``data`` into its registered payload class.

        Raises ``UnknownEventType`` for a type nobody registered and pydantic's
        ``ValidationError`` for data that does not fit its schema.
        """
        cls = payload_class(self.type)
        if cls is None:
            raise UnknownEventType(self.type)
        return cls.model_validate(self.data)


class UnknownEventType(LookupError):
    """An event type that no payload class is registered for."""

    def __init__(self, event_type: str) -> None:
        super().__init__(f"unknown event type {event_type!r}")
        self.event_type = event_type
