"""Setting a group back to the start of an emptied broker's log, on real Tansu."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition

from services.common.broker_identity import commit_start_of_log, group_members
from services.common.kafka import ensure_topics
from services.common.settings import Settings
from tests.integration.kafka_probe import committed_offsets
from vndx.embedded import Tansu


def test_a_member_that_stopped_without_leaving_does_not_block_the_reset(
    tansu: Tansu, tmp_path: Path
) -> None:
    bootstrap = tansu.bootstrap_servers
    settings = Settings(kafka_bootstrap=bootstrap, data_dir=tmp_path)
    topic, group = f"test.reset.{uuid.uuid4().hex[:8]}", f"test-{uuid.uuid4().hex[:8]}"
    partitions = [TopicPartition(topic, n) for n in range(3)]

    async def scenario() -> tuple[list[str], list[str], dict[TopicPartition, int | None]]:
        await ensure_topics(bootstrap, [topic])
        # Joined at generation 0 (Tansu's first), so aiokafka's stop sends no LeaveGroup.
        stale = AIOKafkaConsumer(
            topic, bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
        )
        await stale.start()
        while not stale.assignment():
            await stale.getmany(timeout_ms=200)
        await stale.commit(dict.fromkeys(partitions, 5))
        await stale.stop()
        left_behind = await group_members(settings, group)

        await asyncio.wait_for(commit_start_of_log(settings, group, (topic,)), timeout=20)

        committed = await committed_offsets(bootstrap, group, partitions)
        return left_behind, await group_members(settings, group), committed

    left_behind, remaining, committed = asyncio.run(scenario())
    assert len(left_behind) == 1, "the stopped member is still registered"
    assert remaining == []
    assert committed == dict.fromkeys(partitions, 0)
