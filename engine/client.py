"""How everything outside the engine asks it for a decision.

`submit` queues a command for the owning shard and waits for the reply on this client's own
reply list, which one reader task drains for every waiting request. Commands submitted in the
same event-loop tick leave together: one `LPUSH queue c1 c2 …` per shard in one pipeline, so a
rush of requests costs the gateway a round trip per tick rather than per request. If no reply
arrives in time, the stored result under the command id is checked once (the decision may have
been made while its reply was lost), and otherwise the caller gets `EngineUnavailable`: safe to
retry with the same idempotency key.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
import uuid
from types import TracebackType
from typing import Final, Protocol, Self

from redis.exceptions import RedisError

from config import EngineSettings
from domain.errors import EngineUnavailable
from engine.keys import ShardKeys, reply_list, shard_of
from engine.protocol import Command, CommandType, Reply, encode_command
from engine.redis_client import RedisClient
from engine.waiting import cancel_and_wait
from telemetry.logs import current_request_id

log = logging.getLogger(__name__)

# Well under the Redis client's socket timeout, so an idle wait never looks like a dead socket.
_REPLY_WAIT_SECONDS: Final = 1.0
_REPLY_DRAIN: Final = 512
# Pauses between asks of a command refused "not now"; an event loads in milliseconds.
_TRANSIENT_RETRY_FIRST: Final = 0.01
_TRANSIENT_RETRY_MAX: Final = 0.2


class SubmitObserver(Protocol):
    """Told how each `submit` ended (the gateway's metrics)."""

    def answered(self, command: CommandType, seconds: float) -> None: ...

    def timed_out(self, command: CommandType) -> None: ...


class EngineClient:
    def __init__(
        self, redis: RedisClient, settings: EngineSettings, observer: SubmitObserver | None = None
    ) -> None:
        self._redis = redis
        self._settings = settings
        self._observer = observer
        self.client_id = uuid.uuid4().hex
        self.reply_to = reply_list(self.client_id)
        self._waiting: dict[str, list[asyncio.Future[Reply]]] = {}
        self._reader: asyncio.Task[None] | None = None
        self._outgoing: dict[str, list[bytes]] = {}
        self._sent: asyncio.Future[None] | None = None
        self._senders: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> Self:
        self._reader = asyncio.create_task(self._read_replies(), name="engine-replies")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._reader is not None:
            await cancel_and_wait(self._reader)
            self._reader = None
        if self._senders:
            await asyncio.gather(*self._senders, return_exceptions=True)
        for waiters in self._waiting.values():
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_exception(EngineUnavailable("The gateway is shutting down"))
        self._waiting.clear()

    def shard_keys(self, event_id: int) -> ShardKeys:
        return ShardKeys(shard_of(event_id, self._settings.shards))

    async def submit(self, command: Command) -> Reply:
        """Queue a command that carries this client's `reply_to` and wait for its decision.

        A "not now" refusal (the engine is still loading the command's event) is asked again,
        with the same id, until the decision timeout; only the last one is returned. A buyer
        of an event the engine had not loaded yet then waits a few milliseconds, not a 503."""
        if command.reply_to != self.reply_to:
            raise ValueError("submit() needs a command addressed to this client's reply list")
        keys = self.shard_keys(command.event_id)
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + self._settings.decision_timeout_seconds
        pause = _TRANSIENT_RETRY_FIRST
        while True:
            reply = await self._submit_once(keys, command, deadline)
            if not reply.is_transient or loop.time() + pause >= deadline:
                if self._observer is not None:
                    self._observer.answered(command.TYPE, loop.time() - started)
                return reply
            await asyncio.sleep(pause)  # back-off before asking again
            pause = min(pause * 2, _TRANSIENT_RETRY_MAX)

    async def _submit_once(self, keys: ShardKeys, command: Command, deadline: float) -> Reply:
        waiter: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(command.id, []).append(waiter)
        try:
            try:
                # Shielded: the batch's future is shared, and one caller giving up must not
                # cancel it for the others.
                await asyncio.shield(self._send(keys.commands, _stamped(command)))
            except RedisError as exc:
                raise EngineUnavailable("The seat engine's queue is unreachable; retry") from exc
            try:
                async with asyncio.timeout_at(deadline):
                    return await waiter
            except TimeoutError:
                stored = await self._stored_reply(keys, command.id)
                if stored is not None:
                    return stored
                if self._observer is not None:
                    self._observer.timed_out(command.TYPE)
                raise EngineUnavailable(
                    "The seat engine did not answer in time; retry with the same Idempotency-Key",
                    retry_after=1,
                ) from None
        finally:
            waiters = self._waiting.get(command.id)
            if waiters is not None:
                waiters.remove(waiter)
                if not waiters:
                    del self._waiting[command.id]

    async def send(self, command: Command) -> None:
        """Queue a command nobody waits for (its `reply_to` is None)."""
        await asyncio.shield(
            self._send(self.shard_keys(command.event_id).commands, _stamped(command))
        )

    def _send(self, queue: str, raw: bytes) -> asyncio.Future[None]:
        """Add a command to this tick's batch; the future resolves once the batch is queued."""
        if self._sent is None:
            loop = asyncio.get_running_loop()
            self._sent = loop.create_future()
            sender = loop.create_task(self._send_batch(), name="engine-send")
            self._senders.add(sender)
            sender.add_done_callback(self._senders.discard)
        self._outgoing.setdefault(queue, []).append(raw)
        return self._sent

    async def _send_batch(self) -> None:
        # Runs one tick after the first submission, so everything submitted meanwhile joins.
        batch, self._outgoing = self._outgoing, {}
        sent, self._sent = self._sent, None
        assert sent is not None
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for queue, raws in batch.items():
                    # LPUSH adds left to right and actors take from the right: order is kept.
                    pipe.lpush(queue, *raws)
                await pipe.execute()
        except Exception as exc:
            # Not only RedisError: whatever ends the push, every request in the batch is told,
            # or it would wait for a send that never comes.
            if not sent.done():
                sent.set_exception(exc)
            return
        if not sent.done():
            sent.set_result(None)

    async def _stored_reply(self, keys: ShardKeys, command_id: str) -> Reply | None:
        try:
            raw = await self._redis.get(keys.result(command_id))
        except RedisError:
            return None
        return None if raw is None else Reply.decode(raw)

    async def _read_replies(self) -> None:
        backoff = 0.05
        while True:
            try:
                first = await self._redis.blpop([self.reply_to], timeout=_REPLY_WAIT_SECONDS)
                if first is None:
                    continue
                raws = [first[1]]
                more: list[bytes] | None = await self._redis.lpop(  # type: ignore[assignment]
                    self.reply_to, _REPLY_DRAIN
                )
                raws.extend(more or ())
                backoff = 0.05
            except RedisError as exc:
                log.warning("reply reader lost Redis (%s); retrying in %.2fs", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 1.0)
                continue
            for raw in raws:
                self._resolve(Reply.decode(raw))

    def _resolve(self, reply: Reply) -> None:
        for waiter in self._waiting.get(reply.command_id, ()):
            if not waiter.done():
                waiter.set_result(reply)


def _stamped(command: Command) -> bytes:
    """The command as it is pushed: with the time it leaves (each ask anew, so a retried ask is
    timed from its own push) and the gateway request it serves, if any."""
    return encode_command(
        dataclasses.replace(
            command,
            queued_at_ms=round(time.time() * 1000),
            request_id=command.request_id or current_request_id(),
        )
    )
