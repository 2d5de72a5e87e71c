"""Noticing a broker that came back empty, so that consumers read its new log from the start.

A broker that loses its log (the embedded broker keeps topics in memory; a
cluster rebuilt from nothing) comes back as a new cluster with a new cluster
id. Consumer positions and committed offsets from before point into a log that
no longer exists: kept, they would skip the first records of the new one
(offset 40 of the new log is not offset 40 of the old), and a commit sent with
them would make the skip permanent. A consumer that sees the id change reads
every partition from the start again; its inbox turns what it had already
applied into no-ops.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.client import AIOKafkaClient, CoordinationType
from aiokafka.protocol.group import LeaveGroupRequest

from services.common.kafka import kafka_security
from services.common.settings import Settings

log = logging.getLogger(__name__)

#: How often a consumer asks which cluster it is talking to (one small request).
CHECK_EVERY_S = 1.0
_ASK_TIMEOUT_S = 2.0


class ClusterWatch:
    """Asks for the broker's cluster id at most every ``every_s`` and says when it changed.

    The first id it learns is the one the consumer's positions belong to. A
    broker that does not answer changes nothing: it is the same cluster until
    one with another id answers.
    """

    def __init__(
        self,
        ask: Callable[[], Awaitable[str | None]],
        *,
        every_s: float = CHECK_EVERY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ask = ask
        self.every_s = every_s
        self._clock = clock
        self._next_check = 0.0
        self.known: str | None = None

    async def moved(self) -> bool:
        """True once when the broker answers with a cluster id other than the known one."""
        now = self._clock()
        if now < self._next_check:
            return False
        self._next_check = now + self.every_s
        try:
            current = await asyncio.wait_for(self._ask(), _ASK_TIMEOUT_S)
        except asyncio.CancelledError:
            raise
        except Exception:  # the broker is away: nothing is known to have changed
            return False
        if not current or current == self.known:
            return False
        previous, self.known = self.known, current
        if previous is None:
            return False
        log.warning(
            "the broker is a new cluster (%s, was %s): its topics are read from the start",
            current,
            previous,
        )
        return True


async def commit_start_of_log(settings: Settings, group_id: str, topics: tuple[str, ...]) -> None:
    """Set ``group_id``'s committed offset of every partition of ``topics`` to 0.

    For a group whose members have all stopped: the next member to join starts
    at the beginning instead of at an offset committed from a log that is gone.
    A member still registered is one that stopped without leaving, and the
    broker would refuse the commit for as long as it stays (Tansu did for good),
    so it is sent away first. That happens when a consumer rejoins the new
    broker just before it is stopped: aiokafka sends no LeaveGroup from
    generation 0, the generation Tansu gives a group's first join.
    """
    await leave_group(settings, group_id, await group_members(settings, group_id))
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=group_id,
        enable_auto_commit=False,
        **kafka_security(settings),
    )
    await consumer.start()
    try:
        existing = await consumer.topics()
        partitions = [
            TopicPartition(topic, partition)
            for topic in topics
            if topic in existing
            for partition in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        if partitions:
            consumer.assign(partitions)
            await consumer.commit(dict.fromkeys(partitions, 0))
    finally:
        await consumer.stop()


async def group_members(settings: Settings, group_id: str) -> list[str]:
    """The member ids the broker has registered in ``group_id``."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap, **kafka_security(settings)
    )
    await admin.start()
    try:
        described = await admin.describe_consumer_groups([group_id])
    finally:
        await admin.close()
    return [
        str(member["member_id"])
        for response in described
        for group in response.to_object()["groups"]
        if group["group"] == group_id
        for member in group["members"]
    ]


async def leave_group(settings: Settings, group_id: str, member_ids: Iterable[str]) -> None:
    """Send a LeaveGroup for each of these members of ``group_id``.

    A LeaveGroup for a member already gone is answered with an error and changes
    nothing, so errors in the answers are not raised.
    """
    members = list(member_ids)
    if not members:
        return
    client = AIOKafkaClient(bootstrap_servers=settings.kafka_bootstrap, **kafka_security(settings))
    try:
        await client.bootstrap()
        node = await client.coordinator_lookup(CoordinationType.GROUP, group_id)
        for member_id in members:
            await client.send(node, LeaveGroupRequest(group_id, member_id))
    finally:
        await client.close()
