"""The rush's buyers, over HTTP: hold 1-4 seats, then pay, release, or let the hold expire.

A refused buyer marks the refused seats taken in the shared `SeatMap` (which a websocket watcher
also feeds) and tries other free ones, until it holds or the map has no free seat. Everything it
sees is tallied: decision latencies, each response by route, status and error code, and every
grant with what its buyer did next, for the invariant checks.
"""

from __future__ import annotations

import asyncio
import enum
import html
import random
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

import aiohttp
import orjson

from bench.buyers import SeatMap

MAX_SEATS: Final = 4
# A 503 (engine busy) or 429 (rate limited) is retried after its Retry-After, as a client would:
# a hold with the same Idempotency-Key, a payment by pressing Pay again.
HOLD_ATTEMPTS: Final = 3
RETRIED: Final = frozenset({429, 503})
MAX_RETRY_AFTER_S: Final = 10.0
_PAY_FORM: Final = re.compile(r'<form method=post action="([^"]+/pay)"')


class Action(enum.StrEnum):
    PAY = "pay"
    RELEASE = "release"
    IDLE = "idle"  # walk away; the hold expires


@dataclass(slots=True)
class Grant:
    """A 201 hold as the buyer saw it, and what became of its follow-up."""

    hold_id: str
    user_id: int
    seat_ids: tuple[int, ...]  # as asked for
    answered_seat_ids: tuple[int, ...]  # as the 201 says
    created_ms: int  # the engine's decision time
    expires_ms: int
    received: float  # perf_counter when the 201 arrived
    action: Action
    done: str = "pending"  # paid, released, idle, or the step that failed
    release_sent_ms: float | None = None  # epoch ms when the DELETE left


@dataclass(slots=True)
class Tally:
    hold_latencies_s: list[float] = field(default_factory=list)
    hold_decided_epoch_s: list[float] = field(default_factory=list)  # one per latency
    checkout_latencies_s: list[float] = field(default_factory=list)
    grants: list[Grant] = field(default_factory=list)
    responses: Counter[str] = field(default_factory=Counter)  # "hold 409 seats_unavailable"
    server_errors: Counter[tuple[int, str, str]] = field(default_factory=Counter)
    unserved: int = 0  # buyers who ended without a hold
    # Hold requests that got no decision (no answer, or a 5xx after retries): the engine may
    # still have granted them, unknown to the buyer.
    unanswered_holds: int = 0
    first_sent: float | None = None  # perf_counter
    last_decided: float | None = None


@dataclass(frozen=True, slots=True)
class Answer:
    status: int  # 0: no HTTP answer at all
    body: Any
    headers: dict[str, str]


class Shoppers:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        event_id: int,
        seat_map: SeatMap,
        *,
        pay_share: float,
        release_share: float,
        in_flight: int,
        seed: int,
        on_grant: Callable[[Grant], None],
    ) -> None:
        self._session = session
        self._base = base_url
        self._event_id = event_id
        self._seat_map = seat_map
        self._pay_share = pay_share
        self._release_share = release_share
        self._gate = asyncio.Semaphore(in_flight)
        self._rng = random.Random(seed)
        self._on_grant = on_grant
        self.tally = Tally()

    async def run(self, buyers: Sequence[tuple[int, str]]) -> None:
        """Every buyer (user id, token) starts at one signal; at most `in_flight` shop at once."""
        go = asyncio.Event()
        async with asyncio.TaskGroup() as group:
            for user, token in buyers:
                group.create_task(self._buyer(user, token, go))
            go.set()

    async def _buyer(self, user_id: int, token: str, go: asyncio.Event) -> None:
        await go.wait()
        await self.shop(user_id, token)

    async def shop(self, user_id: int, token: str) -> None:
        """One buyer's visit: hold, then pay, release or walk away (`in_flight` at once)."""
        auth = {"Authorization": f"Bearer {token}"}
        async with self._gate:
            grant = await self._hold(user_id, auth)
            if grant is None:
                self.tally.unserved += 1
            elif grant.action is Action.PAY:
                await self._pay(grant, auth)
            elif grant.action is Action.RELEASE:
                await self._release(grant, auth)
            else:
                grant.done = "idle"

    async def _hold(self, user_id: int, auth: dict[str, str]) -> Grant | None:
        want = self._rng.randint(1, MAX_SEATS)
        # Each round marks at least one seat taken, so this ends within the seat count.
        while self._seat_map.free:
            seats = self._seat_map.pick(want, self._rng)
            if not seats:
                return None
            answer = await self._hold_once(seats, auth)
            if answer.status == 201:
                self._seat_map.taken(seats)
                return self._granted(user_id, seats, answer.body["hold"])
            refused = answer.body["error"].get("seat_ids") if answer.status == 409 else None
            if _code(answer) != "seats_unavailable" or not refused:
                return None
            self._seat_map.taken(refused)
        return None

    async def _hold_once(self, seats: tuple[int, ...], auth: dict[str, str]) -> Answer:
        headers = {**auth, "Idempotency-Key": uuid.uuid4().hex}
        url = f"{self._base}/api/v1/events/{self._event_id}/holds"
        answer = Answer(0, None, {})
        for _ in range(HOLD_ATTEMPTS):
            started = time.perf_counter()
            if self.tally.first_sent is None:
                self.tally.first_sent = started
            try:
                answer = await self._call("hold", "POST", url, headers, {"seat_ids": list(seats)})
            except asyncio.CancelledError:
                # Given up mid-request (a run's deadline): it may still be decided.
                self.tally.unanswered_holds += 1
                raise
            if answer.status in (201, 409):
                decided = time.perf_counter()
                self.tally.hold_latencies_s.append(decided - started)
                self.tally.hold_decided_epoch_s.append(time.time())
                self.tally.last_decided = decided
                return answer
            if answer.status not in RETRIED:
                break
            await asyncio.sleep(min(float(answer.headers.get("Retry-After", 1)), MAX_RETRY_AFTER_S))
        if answer.status == 0 or answer.status >= 500:
            self.tally.unanswered_holds += 1
        return answer

    def _granted(self, user_id: int, seats: tuple[int, ...], hold: dict[str, Any]) -> Grant:
        share = self._rng.random()
        if share < self._pay_share:
            action = Action.PAY
        elif share < self._pay_share + self._release_share:
            action = Action.RELEASE
        else:
            action = Action.IDLE
        grant = Grant(
            hold_id=hold["id"],
            user_id=user_id,
            seat_ids=seats,
            answered_seat_ids=tuple(hold["seat_ids"]),
            created_ms=_epoch_ms(hold["created_at"]),
            expires_ms=_epoch_ms(hold["expires_at"]),
            received=time.perf_counter(),
            action=action,
        )
        self.tally.grants.append(grant)
        self._on_grant(grant)
        return grant

    async def _pay(self, grant: Grant, auth: dict[str, str]) -> None:
        """As a browser would: open the checkout, load its page, submit its Pay form."""
        started = time.perf_counter()
        url = f"{self._base}/api/v1/holds/{grant.hold_id}/checkout"
        checkout = await self._call("checkout", "POST", url, auth)
        if checkout.status != 201:
            grant.done = "checkout_failed"
            return
        page = await self._call("checkout_page", "GET", checkout.body["checkout_url"])
        form = _PAY_FORM.search(page.body) if page.status == 200 else None
        if form is None:
            grant.done = "page_failed"
            return
        pay_url = self._base + html.unescape(form[1])
        # A 503 asks the person to try again, and they press Pay again after its Retry-After.
        for _ in range(HOLD_ATTEMPTS):
            paid = await self._call("pay", "POST", pay_url, redirect=False)
            if paid.status not in RETRIED:
                break
            await asyncio.sleep(min(float(paid.headers.get("Retry-After", 1)), MAX_RETRY_AFTER_S))
        # The page answers Pay with a redirect to the success page once the payment is booked.
        grant.done = "paid" if paid.status == 303 else "pay_failed"
        self.tally.checkout_latencies_s.append(time.perf_counter() - started)

    async def _release(self, grant: Grant, auth: dict[str, str]) -> None:
        grant.release_sent_ms = time.time() * 1000
        url = f"{self._base}/api/v1/holds/{grant.hold_id}"
        released = await self._call("release", "DELETE", url, auth)
        grant.done = "released" if released.status == 204 else "release_failed"

    async def _call(
        self,
        name: str,
        method: str,
        url: str,
        headers: dict[str, str] | None = None,
        json: Any = None,
        *,
        redirect: bool = True,
    ) -> Answer:
        """One request, tallied by name, status and error code; 5xx kept with their message."""
        try:
            async with self._session.request(
                method, url, headers=headers, json=json, allow_redirects=redirect
            ) as response:
                raw = await response.read()
                status, content_type = response.status, response.content_type
                answer_headers = dict(response.headers)
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.tally.responses[f"{name} {type(exc).__name__}"] += 1
            return Answer(0, None, {})
        body: Any = orjson.loads(raw) if content_type == "application/json" else raw.decode()
        answer = Answer(status, body, answer_headers)
        code = _code(answer)
        self.tally.responses[f"{name} {status} {code}".rstrip()] += 1
        if status >= 500:
            message = body["error"].get("message", "") if code else str(body)[:200]
            self.tally.server_errors[(status, code, message)] += 1
        return answer


def _code(answer: Answer) -> str:
    body = answer.body
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return str(body["error"].get("code", ""))
    return ""


def _epoch_ms(iso: str) -> int:
    return round(datetime.fromisoformat(iso).timestamp() * 1000)
