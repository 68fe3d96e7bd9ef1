"""The seat actor: the single writer of one shard's seats.

Each turn takes a batch of commands from the shard queue, decides all of them in memory against
the shard's state (in arrival order, so a seat goes to the first asker), adds the holds whose
expiry timers are due, and applies every effect in one fenced Redis script call. Replies go out
only after that call succeeded. Any failure to apply (a lost lease, a diverged lock, Redis going
away) ends the actor: its memory may now be ahead of what is durable, so the supervisor starts a
fresh one, which recovers from durable state and replays what is still in flight.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Final

from redis.asyncio import Redis

from config import EngineSettings
from engine.clock import Clock
from engine.effects import Effects
from engine.keys import ShardKeys, shard_of
from engine.lease import LeaseLost, ShardLease
from engine.protocol import (
    BeginCheckoutRequest,
    CancelCheckoutRequest,
    Command,
    ConfirmRequest,
    ExpireRequest,
    HoldRequest,
    MalformedCommand,
    RejectCode,
    ReleaseRequest,
    Reply,
    decode_command,
    may_repeat,
)
from engine.queue import ShardQueue
from engine.recovery import ShardRecovery
from engine.scripts import Scripts
from engine.state import ShardState
from engine.writebehind import JournalFlusher
from persistence import DatabaseUnavailable

log = logging.getLogger(__name__)

_MAX_BLOCK_SECONDS: Final = 1.0
# Below this a blocking read is not worth it, and Redis would read a zero timeout as "forever".
_MIN_BLOCK_SECONDS: Final = 0.01
_PRUNE_EVERY_MS: Final = 60_000
_ENDED_HOLDS_KEPT_MS: Final = 3600_000
_MISSING_EVENT_TTL_MS: Final = 5_000


class StateDiverged(RuntimeError):
    """Redis seat locks disagree with the actor's memory; only a fresh recovery can fix it."""


class SeatActor:
    def __init__(
        self,
        *,
        redis: Redis,
        scripts: Scripts,
        keys: ShardKeys,
        lease: ShardLease,
        recovery: ShardRecovery,
        flusher: JournalFlusher,
        settings: EngineSettings,
        clock: Clock,
        ready: asyncio.Event,
    ) -> None:
        self._redis = redis
        self._scripts = scripts
        self._keys = keys
        self._lease = lease
        self._recovery = recovery
        self._flusher = flusher
        self._settings = settings
        self._clock = clock
        self._queue = ShardQueue(redis, scripts, keys, batch_size=settings.batch_size)
        self._state = ShardState(hold_ttl_ms=round(settings.hold_ttl_seconds * 1000))
        self._last_prune_ms = 0
        # Events this turn could not load because MariaDB is down: their commands are retryable.
        self._unloadable: set[int] = set()
        self._unsent_replies: list[tuple[str, bytes]] = []
        self._missing_events: dict[int, int] = {}
        self._ready = ready

    @property
    def state(self) -> ShardState:
        """The shard's state, for inspection only: nothing outside this actor may change it."""
        return self._state

    async def run(self, stopping: asyncio.Event) -> None:
        """Recover, then decide batches until `stopping` is set; a batch in hand is finished."""
        await self._recovery.recover(self._state, self._flusher, self._clock.now_ms())
        self._ready.set()
        while not stopping.is_set():
            # Checked every turn, not only when a cancellation arrives: a turn is at most one
            # blocking read long, so a lapsed owner stops within a second whatever happens.
            if not self._lease.held:
                raise LeaseLost(f"shard {self._keys.shard}: lease lapsed")
            await self.turn()
        if self._unsent_replies:
            await self._queue.take(0.0, self._unsent_replies)

    async def turn(self) -> int:
        """Take, decide and apply one batch; return how many commands it decided."""
        replies, self._unsent_replies = self._unsent_replies, []
        raws = await self._queue.take(self._block_seconds(), replies)
        now_ms = self._clock.now_ms()
        effects = Effects(self._keys, now_ms)
        commands = self._decode(raws)
        await self._load_unseen_events(commands, now_ms)
        stored = await self._stored_replies(commands)
        decided: dict[str, bytes] = {}
        for command in commands:
            encoded = decided.get(command.id) or stored.get(command.id)
            if encoded is None:
                reply = self._decide(command, now_ms, effects)
                encoded = reply.encode()
                decided[command.id] = encoded
                if command.reply_to is not None and not reply.is_transient:
                    effects.store_result(command.id, encoded)
            effects.reply(command.reply_to, encoded)
        for hold_id in list(self._state.due_expiries(now_ms)):
            self._state.expire(
                ExpireRequest(
                    id=f"timer:{hold_id}",
                    reply_to=None,
                    event_id=self._state.holds[hold_id].event_id,
                    hold_id=hold_id,
                ),
                now_ms,
                effects,
            )
        if not raws and not effects.changes_state:
            return 0
        await self._apply(effects)
        # Sent with the next take, which comes straight away: one round trip less per turn.
        self._unsent_replies = effects.replies
        if effects.changes_state:
            self._flusher.wakeup.set()
        self._prune(now_ms)
        return len(commands)

    def _block_seconds(self) -> float:
        next_expiry = self._state.next_expiry_ms()
        if next_expiry is None:
            return _MAX_BLOCK_SECONDS
        wait = (next_expiry - self._clock.now_ms()) / 1000
        if wait < _MIN_BLOCK_SECONDS:
            return 0.0
        return min(wait, _MAX_BLOCK_SECONDS)

    def _decode(self, raws: list[bytes]) -> list[Command]:
        commands = []
        for raw in raws:
            try:
                commands.append(decode_command(raw))
            except MalformedCommand as exc:
                # Nobody can be answered without an id; drop it so it can't wedge the queue.
                log.error(
                    "shard %d: dropped a malformed command (%s): %.200r", self._keys.shard, exc, raw
                )
        return commands

    async def _load_unseen_events(self, commands: list[Command], now_ms: int) -> None:
        self._unloadable.clear()
        unseen = {
            c.event_id
            for c in commands
            if c.event_id not in self._state.events
            and self._missing_events.get(c.event_id, 0) <= now_ms
        }
        for event_id in unseen:
            if shard_of(event_id, self._settings.shards) != self._keys.shard:
                continue  # misrouted: `_decide` rejects it
            try:
                if not await self._recovery.load_event(self._state, event_id, now_ms):
                    # Made-up ids must not cost a database round trip per batch.
                    self._missing_events[event_id] = now_ms + _MISSING_EVENT_TTL_MS
            except DatabaseUnavailable as exc:
                log.warning("shard %d: cannot load event %d: %s", self._keys.shard, event_id, exc)
                self._unloadable.add(event_id)

    async def _stored_replies(self, commands: list[Command]) -> dict[str, bytes]:
        """Replies already decided for these command ids (a client retrying a request)."""
        ids = list({c.id for c in commands if c.reply_to is not None and may_repeat(c.id)})
        if not ids:
            return {}
        found: list[bytes | None] = await self._redis.mget(  # type: ignore[assignment]
            [self._keys.result(command_id) for command_id in ids]
        )
        return {command_id: raw for command_id, raw in zip(ids, found, strict=True) if raw}

    def _decide(self, command: Command, now_ms: int, effects: Effects) -> Reply:
        if shard_of(command.event_id, self._settings.shards) != self._keys.shard:
            log.error(
                "shard %d got a command for event %d of another shard; is ENGINE_SHARDS "
                "the same everywhere?",
                self._keys.shard,
                command.event_id,
            )
            return Reply.reject(command.id, RejectCode.UNAVAILABLE, "Misrouted command")
        if command.event_id in self._unloadable:
            return Reply.reject(
                command.id, RejectCode.UNAVAILABLE, "This event cannot be loaded right now"
            )
        match command:
            case HoldRequest():
                return self._state.hold(command, now_ms, effects)
            case ReleaseRequest():
                return self._state.release(command, now_ms, effects)
            case ExpireRequest():
                return self._state.expire(command, now_ms, effects)
            case BeginCheckoutRequest():
                return self._state.begin_checkout(command, now_ms, effects)
            case ConfirmRequest():
                return self._state.confirm(command, now_ms, effects)
            case CancelCheckoutRequest():
                return self._state.cancel_checkout(command, now_ms, effects)

    async def _apply(self, effects: Effects) -> None:
        if not self._lease.held:
            raise LeaseLost(f"shard {self._keys.shard}: lease not held at apply time")
        keys, payload = effects.render()
        outcome = await self._scripts.apply(
            keys=keys, args=[self._lease.token, payload], client=self._redis
        )
        status = outcome[0]
        if status == b"fenced":
            raise LeaseLost(f"shard {self._keys.shard}: fenced out by a newer owner")
        if status == b"diverged":
            raise StateDiverged(f"shard {self._keys.shard}: locks diverged: {outcome[1][:10]!r}")

    def _prune(self, now_ms: int) -> None:
        if now_ms - self._last_prune_ms >= _PRUNE_EVERY_MS:
            self._state.forget_ended_holds(now_ms - _ENDED_HOLDS_KEPT_MS)
            self._missing_events = {
                event_id: until
                for event_id, until in self._missing_events.items()
                if until > now_ms
            }
            self._last_prune_ms = now_ms
