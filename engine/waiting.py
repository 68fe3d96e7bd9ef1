"""Bounded waits that respect cancellation.

Python 3.11's `asyncio.wait_for` can swallow a cancellation that arrives as its own timeout
fires, leaving a task that was told to stop running on. `asyncio.timeout` has no such race, so
every bounded wait in this code base goes through it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any


async def wait_until_set(event: asyncio.Event, seconds: float) -> bool:
    """Wait up to `seconds` for `event`; return whether it is set."""
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        return event.is_set()
    return True


async def cancel_and_wait(task: asyncio.Task[Any]) -> None:
    """Cancel `task` and wait until it has ended.

    The cancel is repeated until it takes: a cancellation that lands inside a redis-py blocking
    read can be absorbed and the command retried, which would otherwise leave the task running.
    """
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=0.1)
    if not task.cancelled() and task.exception() is not None:
        raise task.exception()  # type: ignore[misc]


async def wait_for_any(events: Iterable[asyncio.Event], seconds: float | None = None) -> None:
    """Wait until one of `events` is set, or at most `seconds` (None: no bound)."""
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
        # Each only waits on an event, so it ends at the cancel; reaped so none is left behind.
        await asyncio.wait(waiters)
