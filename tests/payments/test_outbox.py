"""The outbox worker: sessions of ended holds get expired at the provider, refunds get made, with
retries, and workers in several processes never do one job at the same time."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Final

import orjson

from gateway.payments.outbox import OutboxWorker, backoff_seconds
from gateway.payments.provider import CheckoutPlan, CheckoutSession
from gateway.payments.stripe_provider import MAX_NETWORK_RETRIES
from persistence.seat_state import enqueue_session_expiries
from tests.helpers.engine import ManualClock
from tests.payments.conftest import eventually

if TYPE_CHECKING:
    from persistence import Database
    from tests.helpers.catalog import MakeEvent
    from tests.helpers.engine import Buyers
    from tests.helpers.fake_stripe import FakeStripe
    from tests.payments.conftest import OpenStack

HOLD_TTL_MS: Final = 600_000


def expire_calls(fake: FakeStripe, session_id: str) -> int:
    path = f"/v1/checkout/sessions/{session_id}/expire"
    return sum(1 for call in fake.calls if call.path == path)


async def test_a_hold_expiring_in_checkout_gets_its_session_expired(
    open_stack: OpenStack, make_event: MakeEvent, fake_stripe: FakeStripe
) -> None:
    clock = ManualClock()
    stack = await open_stack(clock=clock)
    made = await make_event(seats=2)
    buyer = await stack.buyer()
    hold_id = await stack.hold(buyer, made.event_id, made.seat_ids[:2])
    session_id = await stack.open_checkout(buyer, hold_id)

    clock.advance(HOLD_TTL_MS + 1)

    async def session_expired() -> bool:
        return fake_stripe.session(session_id)["status"] == "expired"

    await eventually(session_expired, what="the session to be expired at Stripe")
    await eventually(lambda: stack.outbox_done("expire_session"), what="the job to be done")
    assert expire_calls(fake_stripe, session_id) == 1
    assert await stack.hold_status(buyer, hold_id) == "expired"
    # Stripe then reports the expiry; it releases nothing more and closes the payment.
    status, _ = await stack.deliver(await fake_stripe.expire_event(session_id))
    assert status == 200
    assert (await stack.payment(hold_id))["status"] == "expired"


async def test_releasing_a_hold_in_checkout_expires_its_session(
    open_stack: OpenStack, make_event: MakeEvent, fake_stripe: FakeStripe
) -> None:
    stack = await open_stack()
    made = await make_event(seats=2)
    buyer = await stack.buyer()
    hold_id = await stack.hold(buyer, made.event_id, made.seat_ids[:1])
    session_id = await stack.open_checkout(buyer, hold_id)

    released = await stack.client.delete(f"/api/v1/holds/{hold_id}", headers=buyer.headers)

    assert released.status == 204
    assert set((await stack.seat_statuses(made.event_id)).values()) == {"available"}

    async def session_expired() -> bool:
        return fake_stripe.session(session_id)["status"] == "expired"

    await eventually(session_expired, what="the session to be expired at Stripe")
    assert expire_calls(fake_stripe, session_id) == 1


async def test_a_refund_that_fails_is_retried_with_back_off(
    open_stack: OpenStack, make_event: MakeEvent, fake_stripe: FakeStripe
) -> None:
    stack = await open_stack()
    made = await make_event(seats=2)
    buyer = await stack.buyer()
    hold_id = await stack.hold(buyer, made.event_id, made.seat_ids[:1])
    session_id = await stack.open_checkout(buyer, hold_id)
    paid = await fake_stripe.complete(session_id)
    wrong = {**paid, "id": paid["id"] + "_x"}
    wrong["data"] = {"object": {**paid["data"]["object"], "amount_total": 1}}
    fake_stripe.fail_next(MAX_NETWORK_RETRIES + 1)  # the whole first attempt

    status, _ = await stack.deliver(wrong)
    assert status == 200
    await eventually(lambda: stack.outbox_done("refund"), what="the refund")

    async with stack.db.transaction() as conn:
        job = await conn.fetch_one("SELECT attempts, last_error FROM outbox WHERE kind = 'refund'")
    assert job is not None
    assert job["attempts"] == 2
    assert job["last_error"] is None
    assert len(fake_stripe.refunds) == 1
    assert (await stack.payment(hold_id))["status"] == "refunded"


class RecordingProvider:
    """A provider that only records what it is asked, slowly enough for workers to overlap."""

    name = "stripe"

    def __init__(self) -> None:
        self.expired: list[str] = []

    async def create_session(self, plan: CheckoutPlan) -> CheckoutSession:
        raise AssertionError("workers never create sessions")

    async def expire_session(self, session_id: str) -> None:
        await asyncio.sleep(0.01)
        self.expired.append(session_id)

    async def refund(self, *, payment_id: int, payment_intent_id: str) -> None:
        raise AssertionError("no refunds here")

    async def close(self) -> None:
        pass


async def open_payments(
    db: Database, event_id: int, user_id: int, count: int, *, status: str = "open"
) -> list[str]:
    """Payment rows for made-up holds, with their sessions' expiry jobs; returns the hold ids."""
    hold_ids = [f"h{event_id}_{n:032x}" for n in range(count)]
    expires_at = datetime.now(UTC).replace(tzinfo=None) + timedelta(hours=1)
    async with db.transaction() as conn:
        await conn.execute_many(
            "INSERT INTO payments (hold_id, user_id, event_id, provider, session_id,"
            " amount_minor, currency, status, expires_at)"
            " VALUES (%s, %s, %s, 'stripe', %s, 100, 'EUR', %s, %s)",
            [
                (
                    hold_id,
                    user_id,
                    event_id,
                    None if status == "creating" else f"cs_{n}",
                    status,
                    expires_at,
                )
                for n, hold_id in enumerate(hold_ids)
            ],
        )
        await enqueue_session_expiries(conn, hold_ids)
    return hold_ids


async def test_workers_in_several_processes_do_each_job_once(
    db: Database, make_event: MakeEvent, buyers: Buyers
) -> None:
    made = await make_event(seats=1)
    [user_id] = await buyers(1)
    await open_payments(db, made.event_id, user_id, 40)
    provider = RecordingProvider()
    workers = [OutboxWorker(db=db, provider=provider, batch=3) for _ in range(4)]

    while sum(await asyncio.gather(*(worker.run_once() for worker in workers))):
        pass

    assert sorted(provider.expired) == sorted(f"cs_{n}" for n in range(40))
    async with db.transaction() as conn:
        assert await conn.fetch_value("SELECT COUNT(*) FROM outbox WHERE done_at IS NULL") == 0
        assert await conn.fetch_value("SELECT MAX(attempts) FROM outbox") == 1


async def test_an_expiry_waits_for_a_checkout_still_being_created(
    db: Database, make_event: MakeEvent, buyers: Buyers
) -> None:
    made = await make_event(seats=1)
    [user_id] = await buyers(1)
    [hold_id] = await open_payments(db, made.event_id, user_id, 1, status="creating")
    provider = RecordingProvider()

    assert await OutboxWorker(db=db, provider=provider).run_once() == 1
    assert await OutboxWorker(db=db, provider=provider).run_once() == 0, "backing off"

    async with db.transaction() as conn:
        job = await conn.fetch_one(
            "SELECT attempts, done_at, last_error, payload,"
            " TIMESTAMPDIFF(MICROSECOND, CURRENT_TIMESTAMP(6), next_attempt_at) AS wait_us"
            " FROM outbox"
        )
    assert job is not None
    assert orjson.loads(job["payload"]) == {"hold_id": hold_id}
    assert (job["attempts"], job["done_at"]) == (1, None)
    assert "still being created" in job["last_error"]
    assert 0 < job["wait_us"] <= backoff_seconds(1) * 1_000_000
    assert provider.expired == []


class GatedProvider(RecordingProvider):
    """Holds every expiry until the test opens the gate."""

    def __init__(self) -> None:
        super().__init__()
        self.called = asyncio.Event()
        self.gate = asyncio.Event()

    async def expire_session(self, session_id: str) -> None:
        self.called.set()
        await self.gate.wait()
        self.expired.append(session_id)


async def test_stopping_finishes_the_job_in_hand_then_ends(
    db: Database, make_event: MakeEvent, buyers: Buyers
) -> None:
    made = await make_event(seats=1)
    [user_id] = await buyers(1)
    await open_payments(db, made.event_id, user_id, 1)
    provider = GatedProvider()
    worker = OutboxWorker(db=db, provider=provider, poll_seconds=0.05)

    async def run_until_stopped() -> None:
        async with worker.running():
            async with asyncio.timeout(10):
                await provider.called.wait()

    stopping = asyncio.create_task(run_until_stopped())
    await provider.called.wait()
    assert not stopping.done(), "leaving the block waits for the job in hand"
    provider.gate.set()
    async with asyncio.timeout(10):
        await stopping

    assert provider.expired == ["cs_0"]
    async with db.transaction() as conn:
        assert await conn.fetch_value("SELECT COUNT(*) FROM outbox WHERE done_at IS NULL") == 0


async def test_pruning_removes_only_jobs_and_events_past_their_keeping_time(db: Database) -> None:
    async with db.transaction() as conn:
        for key, done_at in [
            ("done-long-ago", "CURRENT_TIMESTAMP(6) - INTERVAL 8 DAY"),
            ("done-recently", "CURRENT_TIMESTAMP(6) - INTERVAL 6 DAY"),
            ("never-done", "NULL"),
        ]:
            await conn.execute(
                "INSERT INTO outbox (kind, dedupe_key, payload, done_at, created_at)"  # noqa: S608
                f" VALUES ('refund', %s, '{{}}', {done_at}, CURRENT_TIMESTAMP(6) - INTERVAL 9 DAY)",
                (key,),
            )
        for event_id, days in [("evt_old", 31), ("evt_recent", 29)]:
            await conn.execute(
                "INSERT INTO payment_events (id, type, received_at)"
                " VALUES (%s, 'checkout.session.completed',"
                " CURRENT_TIMESTAMP(6) - INTERVAL %s DAY)",
                (event_id, days),
            )

    pruned = await OutboxWorker(db=db, provider=RecordingProvider()).prune()

    assert pruned == 2
    async with db.transaction() as conn:
        kept_jobs = await conn.fetch_all("SELECT dedupe_key FROM outbox ORDER BY dedupe_key")
        kept_events = await conn.fetch_all("SELECT id FROM payment_events")
    assert [row["dedupe_key"] for row in kept_jobs] == ["done-recently", "never-done"]
    assert [row["id"] for row in kept_events] == ["evt_recent"]


async def test_each_pass_reports_the_jobs_not_done_yet(
    db: Database, make_event: MakeEvent, buyers: Buyers
) -> None:
    """The backlog the gateway's `rushqueue_outbox_backlog` gauge shows: due, claimed and
    backing-off jobs count; done ones do not."""
    made, other = await make_event(seats=1), await make_event(seats=1)
    [user_id] = await buyers(1)
    await open_payments(db, made.event_id, user_id, 2)  # two sessions to expire: doable
    await open_payments(db, other.event_id, user_id, 1, status="creating")  # not ready yet
    counted: list[int] = []
    worker = OutboxWorker(db=db, provider=RecordingProvider(), on_backlog=counted.append)

    assert await worker.run_once() == 3  # claimed all three: two done, one backing off
    assert await worker.run_once() == 0

    assert counted == [3, 1]
