"""The seat actor: the single writer of one shard's seats.

Each turn takes a batch of commands from the shard queue, decides all of them in memory against
the shard's state (in arrival order, so a seat goes to the first asker), adds the holds whose
expiry timers are due, and applies every effect in one fenced Redis script call. Replies go out
only after that call succeeded (and, with REDIS_MIN_REPLICAS, after enough replicas hold it).
Any failure to apply (a lost lease, a diverged lock, Redis going away, too few replicas) ends the
actor: its memory may now be ahead of what is durable, so the supervisor starts a
fresh one, which recovers from durable state and replays what is still in flight.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Final

from config import EngineSettings
from engine.clock import Clock
from engine.effects import Effects
from engine.keys import ShardKeys, shard_of
from engine.lease import LeaseLost, ShardLease
from engine.loader import EventLoader
from engine.metrics import ShardMetrics
from engine.protocol import (
    BeginCheckoutRequest,
    BestAvailableRequest,
    CancelCheckoutRequest,
    Command,
    ConfigureEventRequest,
    ConfigureQueueRequest,
    ConfirmRequest,
    ExpireRequest,
    HoldRequest,
    JoinQueueRequest,
    LeaveQueueRequest,
    MalformedCommand,
    RejectCode,
    ReleaseRequest,
    Reply,
    decode_command,
    may_repeat,
)
from engine.queue import ReplicasBehind, ShardQueue
from engine.recovery import ShardRecovery
from engine.redis_client import RedisClient
from engine.scripts import Scripts
from engine.state import ShardState
from engine.writebehind import JournalFlusher
from telemetry.logs import RequestContext

log = logging.getLogger(__name__)

_MAX_BLOCK_SECONDS: Final = 1.0
# Below this a blocking read is not worth it, and Redis would read a zero timeout as "forever".
_MIN_BLOCK_SECONDS: Final = 0.01
_PRUNE_EVERY_MS: Final = 60_000
_ENDED_HOLDS_KEPT_MS: Final = 3600_000
# A decision this long after its enqueue is logged, with the request that asked for it.
SLOW_DECISION_SECONDS: Final = 1.0


class StateDiverged(RuntimeError):
    """Redis seat locks disagree with the actor's memory; only a fresh recovery can fix it."""


class SeatActor:
    def __init__(
        self,
        *,
        redis: RedisClient,
        scripts: Scripts,
        keys: ShardKeys,
        lease: ShardLease,
        recovery: ShardRecovery,
        flusher: JournalFlusher,
        settings: EngineSettings,
        clock: Clock,
        ready: asyncio.Event,
        metrics: ShardMetrics | None = None,
    ) -> None:
        self._redis = redis
        self._keys = keys
        self._lease = lease
        self._recovery = recovery
        self._flusher = flusher
        self._settings = settings
        self._clock = clock
        self._queue = ShardQueue(
            redis,
            scripts,
            keys,
            batch_size=settings.batch_size,
            token=lease.token,
            min_replicas=settings.min_replicas,
            replica_wait_ms=settings.replica_wait_ms,
        )
        self._state = ShardState(hold_ttl_ms=round(settings.hold_ttl_seconds * 1000))
        self._last_prune_ms = 0
        self._loader = EventLoader(recovery, shard=keys.shard)
        # Events of this turn's commands still being loaded (or failing to): their commands are
        # answered "retry" rather than waited for.
        self._loading: set[int] = set()
        self._unsent_replies: list[tuple[str, bytes]] = []
        # The next batch, taken in the same round trip as the last apply.
        self._taken_ahead: list[bytes] = []
        self._ready = ready
        # Set by `run`: a blocking read ends as soon as the actor is told to stop.
        self._stopping: asyncio.Event | None = None
        self._metrics = metrics
        self._slow_logged_at = 0.0
        self._slow_unlogged = 0

    @property
    def state(self) -> ShardState:
        """The shard's state, for inspection only: nothing outside this actor may change it."""
        return self._state

    async def run(self, stopping: asyncio.Event) -> None:
        """Recover, then decide batches until `stopping` is set; a batch in hand is finished."""
        started = time.perf_counter()
        await self._recovery.recover(self._state, self._flusher, self._clock.now_ms())
        await self._queue.prepare()
        if self._metrics is not None:
            self._metrics.recovered(time.perf_counter() - started)
        self._ready.set()
        self._stopping = stopping
        try:
            while not stopping.is_set():
                # Checked every turn, not only when a cancellation arrives: a turn is at most
                # one blocking read long, so a lapsed owner stops within a second whatever
                # happens.
                if not self._lease.held:
                    raise LeaseLost(f"shard {self._keys.shard}: lease lapsed")
                await self.turn()
            if self._unsent_replies:
                await self._queue.take(0.0, self._unsent_replies)
        finally:
            await self._loader.close()

    async def turn(self) -> int:
        """Take, decide and apply one batch; return how many commands it decided."""
        raws, self._taken_ahead = self._taken_ahead, []
        if not raws:
            replies, self._unsent_replies = self._unsent_replies, []
            try:
                raws = await self._queue.take(
                    self._block_seconds(), replies, interrupt=self._stopping
                )
            except LeaseLost:
                if self._metrics is not None:
                    self._metrics.fenced()
                raise
        now_ms = self._clock.now_ms()
        effects = Effects(self._keys, now_ms)
        commands = self._decode(raws)
        self._adopt_loaded_events(commands, now_ms)
        stored = await self._stored_replies(commands)
        decided: dict[str, bytes] = {}
        fresh: list[tuple[Command, Reply]] = []
        for command in commands:
            encoded = decided.get(command.id) or stored.get(command.id)
            if encoded is None:
                reply = self._decide(command, now_ms, effects)
                fresh.append((command, reply))
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
        admitted = self._state.tick_rooms(now_ms, effects)
        if not raws and not effects.writes_anything:
            return 0
        self._taken_ahead = await self._apply(effects, taken=len(raws))
        self._observe(fresh, taken=len(raws))
        if self._metrics is not None and self._state.has_rooms:
            waiting, inside = self._state.queue_totals()
            self._metrics.rooms(waiting=waiting, inside=inside, admitted=admitted)
        # Sent with the next apply or take, which comes straight away: no round trip of their own.
        self._unsent_replies = effects.replies
        if effects.changes_state:
            self._flusher.wakeup.set()
        self._prune(now_ms)
        return len(commands)

    def _block_seconds(self) -> float:
        timers = [
            due_ms
            for due_ms in (self._state.next_expiry_ms(), self._state.next_room_tick_ms())
            if due_ms is not None
        ]
        if not timers:
            return _MAX_BLOCK_SECONDS
        wait = (min(timers) - self._clock.now_ms()) / 1000
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

    def _adopt_loaded_events(self, commands: list[Command], now_ms: int) -> None:
        """Take in the events loaded since the last turn, and note which events of this batch
        are still missing from memory. Loading never happens in the turn (engine.loader): a
        hung MariaDB must not stop the shard's other events, its timers or its lease."""
        for loaded in self._loader.finished(now_ms):
            self._state.add_event(loaded.event)
            for hold in loaded.holds:
                self._state.add_hold(hold)
        self._loading = {
            event_id
            for event_id in {c.event_id for c in commands}
            if event_id not in self._state.events
            # Misrouted commands are `_decide`'s to reject, not this shard's to load.
            and shard_of(event_id, self._settings.shards) == self._keys.shard
            and self._loader.must_wait(event_id, now_ms)
        }

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
        if command.event_id in self._loading:
            # Transient, so never stored: the client's retry is decided afresh once it loaded.
            return Reply.reject(
                command.id, RejectCode.UNAVAILABLE, "This event is being loaded; retry shortly"
            )
        match command:
            case HoldRequest():
                return self._state.hold(command, now_ms, effects)
            case BestAvailableRequest():
                return self._state.hold_best(command, now_ms, effects)
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
            case JoinQueueRequest():
                return self._state.join_queue(command, now_ms, effects)
            case LeaveQueueRequest():
                return self._state.leave_queue(command, now_ms, effects)
            case ConfigureQueueRequest():
                return self._state.configure_queue(command, now_ms, effects)
            case ConfigureEventRequest():
                return self._state.configure_event(command)

    async def _apply(self, effects: Effects, *, taken: int) -> list[bytes]:
        """Apply the batch, fenced, and remove from the in-flight list exactly the `taken`
        commands it decided (malformed ones included). The previous batch's replies go out in
        the same round trip, and the next batch comes back with it."""
        if not self._lease.held:
            raise LeaseLost(f"shard {self._keys.shard}: lease not held at apply time")
        keys, payload = effects.render()
        replies, self._unsent_replies = self._unsent_replies, []
        try:
            outcome, taken_ahead = await self._queue.apply_and_take(
                keys, [self._lease.token, payload, taken], replies
            )
        except LeaseLost:
            if self._metrics is not None:
                self._metrics.fenced()
            raise
        except ReplicasBehind:
            # Applied on the master only. Nobody is answered; the next actor recovers from what
            # Redis holds, and a retried request gets the recorded decision, or, if the master
            # was lost meanwhile, a fresh one (its command is still in flight on the replica).
            if self._metrics is not None:
                self._metrics.unreplicated()
            raise
        status = outcome[0]
        if status == b"fenced":
            if self._metrics is not None:
                self._metrics.fenced()
            raise LeaseLost(f"shard {self._keys.shard}: fenced out by a newer owner")
        if status == b"diverged":
            if self._metrics is not None:
                self._metrics.diverged()
            raise StateDiverged(f"shard {self._keys.shard}: locks diverged: {outcome[1][:10]!r}")
        return taken_ahead

    def _observe(self, decided: list[tuple[Command, Reply]], *, taken: int) -> None:
        """Count and time the turn's decisions, now that they are applied (a fenced turn decided
        nothing), and log those worth a line with the request that asked."""
        decided_at = time.time()
        metrics = self._metrics
        if metrics is not None and taken:
            metrics.turn_taken(taken)
        for command, reply in decided:
            seconds = None
            if command.queued_at_ms is not None:
                # Wall clocks of two hosts: a sender slightly ahead must not make it negative.
                seconds = max(decided_at - command.queued_at_ms / 1000, 0.0)
            rejected = None if reply.rejection is None else reply.rejection.code
            if metrics is not None:
                metrics.decided(command.TYPE, rejected, seconds)
            if seconds is not None and seconds > SLOW_DECISION_SECONDS:
                # One line a second at most: an overloaded shard is slow for every command, and
                # a line for each would only add to the load (the metrics count them all).
                if decided_at - self._slow_logged_at < 1.0:
                    self._slow_unlogged += 1
                    continue
                _log_about(
                    command,
                    logging.WARNING,
                    "shard %d: %s %s decided %.2fs after it was queued (%s; %d more slow "
                    "decisions since the last line)",
                    self._keys.shard,
                    command.TYPE.value,
                    command.id,
                    seconds,
                    rejected or "ok",
                    self._slow_unlogged,
                )
                self._slow_logged_at, self._slow_unlogged = decided_at, 0
            elif rejected is not None and log.isEnabledFor(logging.DEBUG):
                _log_about(
                    command,
                    logging.DEBUG,
                    "shard %d: %s %s rejected: %s",
                    self._keys.shard,
                    command.TYPE.value,
                    command.id,
                    rejected,
                )

    def _prune(self, now_ms: int) -> None:
        if now_ms - self._last_prune_ms >= _PRUNE_EVERY_MS:
            self._state.forget_ended_holds(now_ms - _ENDED_HOLDS_KEPT_MS)
            self._loader.prune(now_ms)
            self._last_prune_ms = now_ms


def _log_about(command: Command, level: int, message: str, *args: object) -> None:
    """Log a line about `command`, carrying the id of the gateway request that sent it."""
    if command.request_id is None:
        log.log(level, message, *args)
        return
    with RequestContext(command.request_id):
        log.log(level, message, *args)
