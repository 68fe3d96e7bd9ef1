"""The outbox worker: provider calls that must follow a decision already committed.

Two kinds of job reach the `outbox` table in the same transaction as their decision: the engine's
write-behind asks for `expire_session` when a hold in checkout ends (so nobody can pay for seats
that are no longer theirs), and the webhook asks for `refund` when a paid hold cannot be booked.
Every web process runs one worker. Workers claim due rows with `FOR UPDATE SKIP LOCKED` and a
lease, so several processes share the work without doing a job twice at once; a failed job is
retried with exponential back-off, and the provider's idempotency keys make a job that ran twice
(its worker died before reporting) harmless.

Workers also prune what would otherwise grow for ever: jobs finished a week ago, and handled
webhook events a month old (Stripe redelivers an event for three days at most).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Final

from domain.statuses import PaymentStatus
from engine.waiting import cancel_and_wait, wait_until_set
from persistence import DatabaseUnavailable
from persistence.payments import (
    OutboxJob,
    OutboxKind,
    PaymentRow,
    claim_outbox,
    count_outbox_backlog,
    find_payment_by_hold,
    finish_refund,
    get_payment,
    outbox_done,
    outbox_retry,
    prune_finished,
)

if TYPE_CHECKING:
    from gateway.payments.provider import PaymentProvider
    from persistence import Database

log = logging.getLogger(__name__)

POLL_SECONDS: Final = 1.0
BATCH: Final = 20
# Longer than the slowest job (a provider call with the SDK's retries); a worker that dies
# mid-job leaves it to be claimed again after this.
LEASE_SECONDS: Final = 120.0
BACKOFF_BASE_SECONDS: Final = 1.0
BACKOFF_MAX_SECONDS: Final = 300.0
# On shutdown the job in hand may finish for this long before it is cancelled (its lease then
# hands it to another worker).
_STOP_GRACE_SECONDS: Final = 10.0
PRUNE_EVERY_SECONDS: Final = 3600.0
PRUNE_BATCH: Final = 1000
# A finished job is kept a while for an operator asking what happened to a payment.
DONE_JOBS_KEPT: Final = timedelta(days=7)
# Far past the provider's redelivery window, so a redelivered event is always recognised.
HANDLED_EVENTS_KEPT: Final = timedelta(days=30)


class JobNotReady(RuntimeError):
    """The job cannot be done yet; it is retried later."""


def backoff_seconds(attempts: int) -> float:
    return float(min(BACKOFF_BASE_SECONDS * 2 ** (attempts - 1), BACKOFF_MAX_SECONDS))


class OutboxWorker:
    def __init__(
        self,
        *,
        db: Database,
        provider: PaymentProvider,
        poll_seconds: float = POLL_SECONDS,
        batch: int = BATCH,
        on_backlog: Callable[[int], None] | None = None,
    ) -> None:
        self._db = db
        self._provider = provider
        self._poll_seconds = poll_seconds
        self._batch = batch
        # Told the jobs not done yet at every claim (the gateway's outbox backlog gauge).
        self._on_backlog = on_backlog

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Run the worker in the background for the duration of the block."""
        stopping = asyncio.Event()
        task = asyncio.create_task(self.run(stopping), name="payments-outbox")
        try:
            yield
        finally:
            stopping.set()
            await asyncio.wait({task}, timeout=_STOP_GRACE_SECONDS)
            await cancel_and_wait(task)

    async def run(self, stopping: asyncio.Event) -> None:
        next_prune = 0.0
        loop = asyncio.get_running_loop()
        while not stopping.is_set():
            try:
                if loop.time() >= next_prune:
                    await self.prune()
                    next_prune = loop.time() + PRUNE_EVERY_SECONDS
                done = await self.run_once(stopping)
            except DatabaseUnavailable as exc:
                log.warning("outbox: MariaDB unavailable: %s", exc)
                done = 0
            except Exception:
                # A bug must not stop refunds for good: log it loudly and keep polling.
                log.exception("outbox: pass failed")
                done = 0
            if not done:
                await wait_until_set(stopping, self._poll_seconds)

    async def run_once(self, stopping: asyncio.Event | None = None) -> int:
        """Claim due jobs and perform them; return how many were claimed. Once `stopping` is
        set only the job in hand is finished: the rest of the claim lapses after its lease and
        any worker takes those jobs up again."""
        async with self._db.transaction() as conn:
            jobs = await claim_outbox(conn, limit=self._batch, lease_seconds=LEASE_SECONDS)
            if self._on_backlog is not None:
                self._on_backlog(await count_outbox_backlog(conn))
        for job in jobs:
            if stopping is not None and stopping.is_set():
                break
            await self._perform(job)
        return len(jobs)

    async def prune(self) -> int:
        """Delete finished jobs and handled events past their keeping time, a batch at a time
        so that no transaction grows large; return how many rows went."""
        pruned = 0
        while True:
            async with self._db.transaction() as conn:
                deleted = await prune_finished(
                    conn,
                    jobs_kept=DONE_JOBS_KEPT,
                    events_kept=HANDLED_EVENTS_KEPT,
                    limit=PRUNE_BATCH,
                )
            pruned += deleted
            if deleted < PRUNE_BATCH:
                return pruned

    async def _perform(self, job: OutboxJob) -> None:
        try:
            match job.kind:
                case OutboxKind.EXPIRE_SESSION:
                    await self._expire_session(job)
                case OutboxKind.REFUND:
                    await self._refund(job)
        except Exception as exc:
            # Any failure (provider down, engine busy, a payment not ready) is retried later;
            # `last_error` tells an operator why a job keeps failing.
            delay = backoff_seconds(job.attempts)
            log.warning(
                "outbox: %s job %d failed (attempt %d, next in %.0fs): %s",
                job.kind,
                job.id,
                job.attempts,
                delay,
                exc,
            )
            async with self._db.transaction() as conn:
                await outbox_retry(
                    conn, job.id, delay_seconds=delay, error=f"{type(exc).__name__}: {exc}"
                )

    async def _expire_session(self, job: OutboxJob) -> None:
        async with self._db.transaction() as conn:
            payment = await find_payment_by_hold(conn, str(job.payload["hold_id"]))
        if payment is not None:
            self._check_provider(payment)
            if payment.status is PaymentStatus.CREATING and payment.expires_at > datetime.now(UTC):
                # A checkout request is between planning and recording its session; wait for
                # it. Once the planned expiry has passed, any session it made has expired.
                raise JobNotReady(f"the checkout of {payment.hold_id} is still being created")
            if payment.status is PaymentStatus.OPEN and payment.session_id is not None:
                await self._provider.expire_session(payment.session_id)
        await self._done(job)

    async def _refund(self, job: OutboxJob) -> None:
        payment_id = int(job.payload["payment_id"])
        async with self._db.transaction() as conn:
            payment = await get_payment(conn, payment_id)
        if payment is None or payment.status is not PaymentStatus.REFUND_PENDING:
            await self._done(job)
            return
        self._check_provider(payment)
        if payment.payment_intent_id is None:
            raise JobNotReady(f"payment {payment_id} has no payment intent to refund")
        await self._provider.refund(
            payment_id=payment_id, payment_intent_id=payment.payment_intent_id
        )
        async with self._db.transaction() as conn:
            await finish_refund(conn, payment_id)
            await outbox_done(conn, job.id)

    async def _done(self, job: OutboxJob) -> None:
        async with self._db.transaction() as conn:
            await outbox_done(conn, job.id)

    def _check_provider(self, payment: PaymentRow) -> None:
        # Every web process must use the same provider; one that does not leaves the job to them.
        if payment.provider != self._provider.name:
            raise JobNotReady(
                f"payment {payment.id} belongs to provider {payment.provider!r}, "
                f"this process uses {self._provider.name!r}"
            )
