"""A wake-up call for a background loop (outbox relay, extract builder), from any thread.

Commits mostly happen in worker threads (sync endpoints, ``to_thread``); an
``asyncio.Event`` set from there does not wake the loop, and the work would wait for
the next poll, so the loop is asked to set it.
"""

from __future__ import annotations

import asyncio
import contextlib


class Wakeup:
    """Set from any thread; waited on by one loop, with the poll interval as timeout."""

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    def bind(self) -> None:
        """Remember the running loop as the one that waits (call from the waiting task)."""
        self._loop = asyncio.get_running_loop()

    def set(self) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            self._event.set()
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._event.set()
        else:
            loop.call_soon_threadsafe(self._event.set)

    def clear(self) -> None:
        """Forget earlier calls; clear before looking for work, so a call made while
        working wakes the next round."""
        self._event.clear()

    async def wait(self, timeout_s: float) -> None:
        """Until ``set`` is called or ``timeout_s`` passes."""
        # Not wait_for: in 3.11 it can swallow a cancellation that arrives as the
        # wake-up does, and the loop would then never stop.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                await self._event.wait()
