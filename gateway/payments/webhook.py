"""Checkout webhook events: verify the signature, then apply each event exactly once.

The only way a seat becomes booked is a verified event saying the session was paid, followed by
the engine's `confirm`. Every event's outcome is committed to MariaDB together with the event's
id before the provider hears 2xx, so a redelivery (Stripe retries anything else for days) is
recognised and changes nothing. The engine's `confirm` and `cancel_checkout` are idempotent per
hold (a booked hold answers "booked" again), so a delivery retried after a crash between the
engine's decision and the commit gets the same answer and writes the booking once.

A paid checkout always ends in a booking or a refund: if the engine cannot book the seats (the
hold expired and they were sold), if MariaDB already has a booking for one of them (two shard
actors sold it), or the amount paid is not the amount planned, the payment goes to
`refund_pending` with a refund job in the outbox, in the same transaction as the event.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import stripe
from redis.exceptions import RedisError

from domain.errors import InvalidSignature, MalformedJson, Unavailable
from domain.statuses import HoldStatus, PaymentStatus
from engine.hold_records import read_hold
from engine.protocol import CancelCheckoutRequest, ConfirmRequest, RejectCode, Reply, new_command_id
from persistence import DatabaseUnavailable
from persistence.payments import (
    PaymentRow,
    SeatConflict,
    book_payment,
    checkout_seats,
    end_checkout,
    event_seen,
    find_payment_by_session,
    lock_payment,
    record_event,
    start_refund,
)
from persistence.seat_state import get_hold

if TYPE_CHECKING:
    from config import EngineSettings
    from engine.client import EngineClient
    from engine.redis_client import RedisClient
    from persistence import Database
    from persistence.database import Connection

log = logging.getLogger(__name__)

# Stripe's default: a signed event older than five minutes is refused, so a captured one cannot
# be replayed later.
TOLERANCE_SECONDS: Final = 300

COMPLETED: Final = "checkout.session.completed"
ASYNC_SUCCEEDED: Final = "checkout.session.async_payment_succeeded"
ASYNC_FAILED: Final = "checkout.session.async_payment_failed"
EXPIRED: Final = "checkout.session.expired"
HANDLED_TYPES: Final = frozenset({COMPLETED, ASYNC_SUCCEEDED, ASYNC_FAILED, EXPIRED})

# A payment in one of these has its outcome; later events for it change nothing.
_SETTLED: Final = frozenset(
    {PaymentStatus.PAID, PaymentStatus.REFUND_PENDING, PaymentStatus.REFUNDED}
)


class Outcome(enum.StrEnum):
    BOOKED = "booked"
    REFUNDING = "refunding"
    RELEASED = "released"
    RECORDED = "recorded"  # handled, nothing to change (unpaid yet, settled, unknown session)
    DUPLICATE = "duplicate"
    IGNORED = "ignored"  # a type this service does not act on


# An event's effect on its (locked) payment, written in the event's transaction.
_Write = Callable[["Connection", PaymentRow], Awaitable[Outcome]]
# Told every committed outcome (the gateway's metrics count them).
OnOutcome = Callable[[Outcome], None]


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionEvent:
    """The fields of a checkout-session event this service acts on."""

    id: str
    type: str
    session_id: str
    payment_status: str | None
    amount_total: int | None
    currency: str | None
    payment_intent: str | None

    @property
    def paid(self) -> bool:
        return self.type == ASYNC_SUCCEEDED or (
            self.type == COMPLETED and self.payment_status == "paid"
        )

    def pays_for(self, payment: PaymentRow) -> bool:
        return (
            self.amount_total == payment.amount_minor
            and (self.currency or "").lower() == payment.currency.lower()
        )


def verify(payload: bytes, signature: str | None, secret: str) -> SessionEvent | None:
    """The event if its signature is good and recent; None for a type not handled here."""
    try:
        # Stripe signs the body as text: bytes that are not UTF-8 cannot carry a valid signature,
        # and must be refused as such before anything tries to parse them.
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidSignature("The Stripe-Signature header is missing, wrong or too old") from None
    try:
        event = stripe.Webhook.construct_event(text, signature, secret, tolerance=TOLERANCE_SECONDS)
    except stripe.SignatureVerificationError:
        raise InvalidSignature("The Stripe-Signature header is missing, wrong or too old") from None
    except ValueError:  # signed, yet not a JSON event
        raise MalformedJson("The body is not a webhook event") from None
    return _session_event(event.to_dict())


def _session_event(event: dict[str, Any]) -> SessionEvent | None:
    if event.get("type") not in HANDLED_TYPES:
        return None
    session = event["data"]["object"]
    intent = session.get("payment_intent")
    if isinstance(intent, dict):  # expanded
        intent = intent.get("id")
    return SessionEvent(
        id=str(event["id"]),
        type=str(event["type"]),
        session_id=str(session["id"]),
        payment_status=session.get("payment_status"),
        amount_total=session.get("amount_total"),
        currency=session.get("currency"),
        payment_intent=intent,
    )


class WebhookHandler:
    def __init__(
        self,
        *,
        db: Database,
        engine: EngineClient,
        redis: RedisClient,
        engine_settings: EngineSettings,
        webhook_secret: str,
        on_outcome: OnOutcome | None = None,
    ) -> None:
        self._db = db
        self._engine = engine
        self._redis = redis
        self._engine_settings = engine_settings
        self._secret = webhook_secret
        self._on_outcome = on_outcome

    async def receive(self, payload: bytes, signature: str | None) -> Outcome:
        """Verify and apply one delivery. Returns only once the outcome is committed; a 503
        (`Unavailable`) means nothing was recorded and the delivery should be retried."""
        event = verify(payload, signature, self._secret)
        if event is None:
            outcome = Outcome.IGNORED
        else:
            try:
                outcome = await self._apply(event)
            except DatabaseUnavailable as exc:
                log.warning("webhook %s: MariaDB unavailable: %s", event.id, exc)
                raise Unavailable("Payment records are unavailable; retry", retry_after=5) from exc
        if self._on_outcome is not None:
            self._on_outcome(outcome)
        return outcome

    async def _apply(self, event: SessionEvent) -> Outcome:
        async with self._db.transaction() as conn:
            if await event_seen(conn, event.id):
                return Outcome.DUPLICATE
            payment = await find_payment_by_session(conn, event.session_id)
        if payment is None:
            log.warning("webhook %s: unknown session %s", event.id, event.session_id)
            return await self._settle(event, None, _recorded)
        if payment.status in _SETTLED:
            return await self._settle(event, payment, _recorded)
        if event.type in (ASYNC_FAILED, EXPIRED):
            return await self._release(event, payment)
        if not event.paid:
            # Completed with a delayed payment method: the money follows in an async event.
            return await self._settle(event, payment, _recorded)
        return await self._confirm(event, payment)

    async def _release(self, event: SessionEvent, payment: PaymentRow) -> Outcome:
        await self._cancel_checkout(payment)
        status = PaymentStatus.FAILED if event.type == ASYNC_FAILED else PaymentStatus.EXPIRED

        async def ended(conn: Connection, locked: PaymentRow) -> Outcome:
            # A payment that got further (paid in between) keeps its status.
            await end_checkout(conn, locked.id, status)
            return Outcome.RELEASED

        return await self._settle(event, payment, ended)

    async def _confirm(self, event: SessionEvent, payment: PaymentRow) -> Outcome:
        if not event.pays_for(payment):
            log.error(
                "webhook %s: session %s paid %s %s, expected %d %s; refunding",
                event.id,
                event.session_id,
                event.amount_total,
                event.currency,
                payment.amount_minor,
                payment.currency,
            )
            await self._cancel_checkout(payment)
            return await self._settle(event, payment, _refund(event))
        reply = await self._engine.submit(
            ConfirmRequest(
                id=new_command_id(),
                reply_to=self._engine.reply_to,
                event_id=payment.event_id,
                hold_id=payment.hold_id,
                user_id=payment.user_id,
                seat_ids=await self._hold_seats(payment.hold_id),
            )
        )
        _raise_if_unavailable(reply)
        if reply.hold is None or reply.hold.status is not HoldStatus.BOOKED:
            log.warning(
                "webhook %s: hold %s was paid but cannot be booked (%s); refunding",
                event.id,
                payment.hold_id,
                reply.rejection.code if reply.rejection else "not booked",
            )
            return await self._settle(event, payment, _refund(event))
        seat_ids = reply.hold.seat_ids

        async def booked(conn: Connection, locked: PaymentRow) -> Outcome:
            if locked.status in _SETTLED:  # a concurrent event for this session got here first
                return Outcome.RECORDED
            seats = await checkout_seats(conn, locked.event_id, seat_ids)
            await book_payment(
                conn, locked, payment_intent_id=event.payment_intent, seats=seats.seats
            )
            return Outcome.BOOKED

        try:
            return await self._settle(event, payment, booked)
        except SeatConflict as exc:
            # The transaction rolled back whole (event, payment and booking rows alike). Another
            # buyer holds a booking for a seat the engine just booked for this hold: two actors
            # sold it. That booking stands; this buyer paid for seats that are gone.
            log.error(
                "webhook %s: hold %s was paid but its seats are booked already (%s); refunding",
                event.id,
                payment.hold_id,
                exc,
            )
            return await self._settle(event, payment, _refund(event))

    async def _settle(
        self, event: SessionEvent, payment: PaymentRow | None, outcome: _Write
    ) -> Outcome:
        """Record the event and write its outcome in one transaction, with the payment row
        locked so that concurrent events for one session take turns. InnoDB may roll it back to
        break a deadlock with the write-behind (both write seats' rows); it is run again then,
        since after a paid hold was booked in the engine only this transaction records it."""

        async def record(conn: Connection) -> Outcome:
            if not await record_event(
                conn, event_id=event.id, event_type=event.type, session_id=event.session_id
            ):
                return Outcome.DUPLICATE
            if payment is None:
                return Outcome.RECORDED
            return await outcome(conn, await lock_payment(conn, payment.id))

        return await self._db.run_transaction(record)

    async def _cancel_checkout(self, payment: PaymentRow) -> None:
        """Release the hold's seats if it is still in checkout. A hold that has ended, or that
        the engine no longer remembers, has nothing left to release."""
        reply = await self._engine.submit(
            CancelCheckoutRequest(
                id=new_command_id(),
                reply_to=self._engine.reply_to,
                event_id=payment.event_id,
                hold_id=payment.hold_id,
            )
        )
        _raise_if_unavailable(reply)

    async def _hold_seats(self, hold_id: str) -> tuple[int, ...]:
        """The hold's seats, from its engine record, or from MariaDB once Redis has let it go."""
        try:
            hold = await read_hold(self._redis, self._engine_settings, hold_id)
        except RedisError:
            hold = None
        if hold is not None:
            return hold.seat_ids
        async with self._db.transaction() as conn:
            row = await get_hold(conn, hold_id)
        if row is None:
            raise Unavailable(f"Hold {hold_id} is not on record yet; retry", retry_after=5)
        return row.seat_ids


def _raise_if_unavailable(reply: Reply) -> None:
    if reply.rejection is not None and reply.rejection.code is RejectCode.UNAVAILABLE:
        raise reply.rejection.to_error()


async def _recorded(conn: Connection, payment: PaymentRow) -> Outcome:
    return Outcome.RECORDED


def _refund(event: SessionEvent) -> _Write:
    async def refund(conn: Connection, locked: PaymentRow) -> Outcome:
        if locked.status in _SETTLED:
            return Outcome.RECORDED
        await start_refund(conn, locked, payment_intent_id=event.payment_intent)
        return Outcome.REFUNDING

    return refund
