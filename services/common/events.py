"""Envelope <-> Kafka record, in the CloudEvents Kafka binding's binary mode.

Attributes travel as ``ce_`` headers, the data as the JSON value, the subject
(aggregate id) as the key. The W3C ``traceparent`` header rides along so that a
purchase can be followed across services.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cloudevents.core.bindings import kafka as ce_kafka
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from services.contracts.envelope import Envelope

_FORMAT = JSONFormat()
TRACEPARENT_HEADER = "traceparent"


class MalformedEvent(ValueError):
    """A Kafka record that is not a valid CloudEvents 1.0 event."""


@dataclass(frozen=True)
class KafkaRecord:
    """What is sent to or read from Kafka."""

    topic: str
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]


def to_record(topic: str, envelope: Envelope) -> KafkaRecord:
    attributes: dict[str, Any] = {
        "id": envelope.id,
        "source": envelope.source,
        "type": envelope.type,
        "specversion": envelope.specversion,
        "time": envelope.time,
        "subject": envelope.subject,
        "datacontenttype": envelope.datacontenttype,
        "partitionkey": envelope.subject,
    }
    if envelope.traceparent:
        attributes["traceparent"] = envelope.traceparent
    message = ce_kafka.to_binary(CloudEvent(attributes, envelope.data), _FORMAT)
    headers = list(message.headers.items())
    if envelope.traceparent:
        headers.append((TRACEPARENT_HEADER, envelope.traceparent.encode()))
    key = message.key.encode() if isinstance(message.key, str) else message.key
    return KafkaRecord(topic=topic, key=key, value=message.value, headers=headers)


def from_record(record: KafkaRecord) -> Envelope:
    """Parse a record; raise ``MalformedEvent`` saying what is wrong."""
    headers = {name: value for name, value in record.headers if name != TRACEPARENT_HEADER}
    try:
        event = ce_kafka.from_binary(
            ce_kafka.KafkaMessage(headers=headers, key=record.key, value=record.value), _FORMAT
        )
    except Exception as exc:  # the SDK raises several unrelated types
        raise MalformedEvent(f"not a CloudEvent: {exc}") from exc
    data = event.get_data()
    if not isinstance(data, dict):
        raise MalformedEvent("event data must be a JSON object")
    time = event.get_time() or datetime.now(UTC)
    try:
        return Envelope(
            id=event.get_id(),
            source=event.get_source(),
            type=event.get_type(),
            specversion=event.get_specversion(),
            time=time if time.tzinfo else time.replace(tzinfo=UTC),
            subject=event.get_subject() or "",
            datacontenttype=event.get_datacontenttype() or "application/json",
            data=data,
            traceparent=event.get_extension("traceparent"),
        )
    except ValueError as exc:
        raise MalformedEvent(str(exc)) from exc
