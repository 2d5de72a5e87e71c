"""The cluster watch: which answers mean the broker is a new, emptied cluster."""

from __future__ import annotations

import asyncio

from services.common.broker_identity import ClusterWatch


class Broker:
    """Answers with the cluster id it is given, or fails as an unreachable broker does."""

    def __init__(self) -> None:
        self.answer: str | Exception | None = "cluster-a"
        self.asked = 0

    async def cluster_id(self) -> str | None:
        self.asked += 1
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_only_another_id_after_a_known_one_is_a_move() -> None:
    broker, clock = Broker(), Clock()
    watch = ClusterWatch(broker.cluster_id, every_s=1.0, clock=clock)

    async def steps() -> list[bool]:
        seen = [await watch.moved()]  # learns cluster-a
        for answer in (ConnectionError("down"), None, "cluster-a", "cluster-b", "cluster-b"):
            broker.answer = answer
            clock.now += 1.0
            seen.append(await watch.moved())
        return seen

    assert asyncio.run(steps()) == [False, False, False, False, True, False]
    assert watch.known == "cluster-b"


def test_the_broker_is_asked_at_most_once_a_period() -> None:
    broker, clock = Broker(), Clock()
    watch = ClusterWatch(broker.cluster_id, every_s=1.0, clock=clock)

    async def steps() -> bool:
        await watch.moved()
        broker.answer = "cluster-b"
        clock.now += 0.5
        early = await watch.moved()
        clock.now += 0.5
        return early or not await watch.moved()

    assert asyncio.run(steps()) is False
    assert broker.asked == 2
