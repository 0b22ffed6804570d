"""A work queue with client-go's guarantees, for asyncio.

A key is never processed by two workers at once; adding a key that is queued does
nothing; adding one that is being processed runs it again afterwards. Each key has at
most one pending timer, and the latest reconcile decides when it comes back.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Generic, TypeVar

K = TypeVar("K")


class WorkQueue(Generic[K]):
    def __init__(self) -> None:
        self.queue: deque[K] = deque()
        self.dirty: set[K] = set()
        self.processing: set[K] = set()
        self.timers: dict[K, asyncio.TimerHandle] = {}
        self.wakeup = asyncio.Event()

    def __len__(self) -> int:
        return len(self.queue)

    def add(self, key: K) -> None:
        if key in self.dirty:
            return
        self.dirty.add(key)
        if key in self.processing:
            return
        self.queue.append(key)
        self.wakeup.set()

    def add_after(self, key: K, delay: float) -> None:
        """Replaces any pending timer of `key`."""
        self.cancel_timer(key)

        def fire() -> None:
            self.timers.pop(key, None)
            self.add(key)

        self.timers[key] = asyncio.get_running_loop().call_later(delay, fire)

    def cancel_timer(self, key: K) -> None:
        timer = self.timers.pop(key, None)
        if timer is not None:
            timer.cancel()

    async def get(self) -> K:
        while not self.queue:
            self.wakeup.clear()
            await self.wakeup.wait()
        key = self.queue.popleft()
        self.processing.add(key)
        self.dirty.discard(key)
        return key

    def done(self, key: K) -> None:
        self.processing.discard(key)
        if key in self.dirty:
            self.queue.append(key)
            self.wakeup.set()
