"""Fixture: a fake Stripe API on a loopback port, for the real `stripe` library to talk to.

It speaks Stripe's wire format for the few endpoints RushQueue calls: form-encoded requests in
bracket notation, JSON objects back, errors as `{"error": {"type", "message", "code", "param"}}`
with Stripe's HTTP statuses, bearer-key auth and idempotency keys with Stripe's replay rules.
The test plays the buyer and Stripe's back office through async actions that move a session
along and return the event Stripe would send; `deliver` posts it signed as Stripe signs it:

    client = stripe.StripeClient(fake_stripe.api_key,
                                 base_addresses={"api": fake_stripe.base_url},
                                 http_client=stripe.AIOHTTPClient())
    session = await client.v1.checkout.sessions.create_async({...})
    event = await fake_stripe.complete(session.id)
    status, body = await fake_stripe.deliver(event, webhook_url, secret="whsec_test")

Unknown parameters are refused as Stripe refuses them ("Received unknown parameter: ..."), so a
typo in the app fails here rather than in production. Sessions never expire by themselves: a
test calls `expire_event` (or the app calls the expire endpoint).
"""

from __future__ import annotations

import json
import re
import secrets
import string
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Final, Literal, TypeAlias, TypedDict
from urllib.parse import parse_qsl

import aiohttp
import pytest
import stripe
from aiohttp import web

from engine.clock import Clock, SystemClock

API_KEY: Final = "sk_test_fake"
MIN_EXPIRY_SECONDS: Final = 30 * 60
MAX_EXPIRY_SECONDS: Final = 24 * 60 * 60
_BASE62: Final = string.ascii_letters + string.digits

SessionStatus: TypeAlias = Literal["open", "complete", "expired"]
PaymentStatus: TypeAlias = Literal["paid", "unpaid"]
IntentStatus: TypeAlias = Literal["processing", "succeeded", "requires_payment_method"]
EventType: TypeAlias = Literal[
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
    "checkout.session.expired",
]
FormValue: TypeAlias = "str | list[FormValue] | dict[str, FormValue]"
_Tree: TypeAlias = "dict[str, _Tree | str]"


class CheckoutSession(TypedDict):
    id: str
    object: Literal["checkout.session"]
    url: str | None
    status: SessionStatus
    payment_status: PaymentStatus
    amount_subtotal: int
    amount_total: int
    currency: str
    client_reference_id: str | None
    customer_email: str | None
    metadata: dict[str, str]
    expires_at: int
    payment_intent: str | None
    created: int
    livemode: bool
    mode: Literal["payment"]
    success_url: str
    cancel_url: str | None


class Refund(TypedDict):
    id: str
    object: Literal["refund"]
    amount: int
    currency: str
    payment_intent: str
    charge: str
    status: Literal["succeeded"]
    reason: str | None
    metadata: dict[str, str]
    created: int


class EventRequest(TypedDict):
    id: str | None
    idempotency_key: str | None


class EventData(TypedDict):
    object: CheckoutSession


class Event(TypedDict):
    id: str
    object: Literal["event"]
    api_version: str
    created: int
    type: EventType
    livemode: bool
    pending_webhooks: int
    request: EventRequest
    data: EventData


@dataclass(frozen=True, slots=True)
class Call:
    """One API request as the fake saw it; `params` is the decoded form (or query)."""

    method: str
    path: str
    idempotency_key: str | None
    params: dict[str, FormValue]
    status: int
    stripe_version: str | None


class FakeStripeError(Exception):
    """A test asked for something Stripe could never do (pay an expired session, ...)."""


def new_id(prefix: str, length: int = 24) -> str:
    return prefix + "".join(secrets.choice(_BASE62) for _ in range(length))


class _ApiError(Exception):
    """A Stripe-shaped error response."""

    def __init__(
        self,
        status: int,
        type_: str,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body: dict[str, object] = {"message": message, "type": type_}
        if code is not None:
            self.body["code"] = code
            self.body["doc_url"] = "https://stripe.com/docs/error-codes/" + code.replace("_", "-")
        if param is not None:
            self.body["param"] = param

    def payload(self) -> bytes:
        return json.dumps({"error": self.body}, indent=2).encode()


def _invalid(
    message: str, *, param: str | None = None, code: str | None = None, status: int = 400
) -> _ApiError:
    return _ApiError(status, "invalid_request_error", message, param=param, code=code)


def _missing(param: str) -> _ApiError:
    return _invalid(f"Missing required param: {param}.", param=param, code="parameter_missing")


def _no_such(kind: str, object_id: str, param: str, *, status: int) -> _ApiError:
    return _invalid(
        f"No such {kind}: '{object_id}'", param=param, code="resource_missing", status=status
    )


# --- decoding Stripe's form encoding ------------------------------------------------------------

_KEY = re.compile(r"([^\[\]]+)((?:\[[^\[\]]*\])*)")
_INDEX = re.compile(r"0|[1-9][0-9]*")


def parse_form(raw: str) -> dict[str, FormValue]:
    """`a[b][0][c]=v` pairs into nested dicts, with all-index dicts turned into lists."""
    root: _Tree = {}
    for key, value in parse_qsl(raw, keep_blank_values=True):
        match = _KEY.fullmatch(key)
        if match is None:
            raise _invalid(f"Invalid parameter name: {key}", param=key)
        parts = [match[1], *re.findall(r"\[([^\[\]]*)\]", match[2])]
        node = root
        for part in parts[:-1]:
            child = node.setdefault(part or str(len(node)), {})
            if isinstance(child, str):
                raise _invalid(f"Invalid hash: {key}", param=key)
            node = child
        last = parts[-1] or str(len(node))
        if last in node:
            raise _invalid(f"Received a duplicate value for parameter {key}", param=key)
        node[last] = value
    return {name: _freeze(value, name) for name, value in root.items()}


def _freeze(value: _Tree | str, name: str) -> FormValue:
    if isinstance(value, str):
        return value
    if value and all(_INDEX.fullmatch(key) for key in value):
        if sorted(int(key) for key in value) != list(range(len(value))):
            raise _invalid(f"Invalid array: {name} must be indexed from 0 without gaps", param=name)
        return [_freeze(value[str(i)], f"{name}[{i}]") for i in range(len(value))]
    return {key: _freeze(sub, f"{name}[{key}]") for key, sub in value.items()}


@dataclass(frozen=True, slots=True)
class _Params:
    """Typed reads from a decoded form; errors name the parameter the way Stripe does."""

    values: Mapping[str, FormValue]
    prefix: str = ""

    def name(self, key: str) -> str:
        return f"{self.prefix}[{key}]" if self.prefix else key

    def only(self, *allowed: str) -> None:
        for key in self.values:
            if key not in allowed:
                raise _invalid(
                    f"Received unknown parameter: {self.name(key)}", param=self.name(key)
                )

    def text(self, key: str) -> str | None:
        value = self.values.get(key)
        if value is None or value == "":  # Stripe reads an empty string as "unset"
            return None
        if not isinstance(value, str):
            raise _invalid(
                f"Invalid string: {self.name(key)} must be a string", param=self.name(key)
            )
        return value

    def need_text(self, key: str) -> str:
        value = self.text(key)
        if value is None:
            raise _missing(self.name(key))
        return value

    def integer(self, key: str, *, minimum: int | None = None) -> int | None:
        value = self.text(key)
        if value is None:
            return None
        if not re.fullmatch(r"-?[0-9]+", value):
            raise _invalid(
                f"Invalid integer: {value}", param=self.name(key), code="parameter_invalid_integer"
            )
        number = int(value)
        if minimum is not None and number < minimum:
            raise _invalid(
                f"This value must be greater than or equal to {minimum}.", param=self.name(key)
            )
        return number

    def need_integer(self, key: str, *, minimum: int | None = None) -> int:
        value = self.integer(key, minimum=minimum)
        if value is None:
            raise _missing(self.name(key))
        return value

    def hash(self, key: str) -> _Params | None:
        value = self.values.get(key)
        if value is None or value == "":
            return None
        if not isinstance(value, dict):
            raise _invalid(f"Invalid hash: {self.name(key)}", param=self.name(key))
        return _Params(value, self.name(key))

    def need_hash(self, key: str) -> _Params:
        value = self.hash(key)
        if value is None:
            raise _missing(self.name(key))
        return value

    def need_array(self, key: str) -> list[_Params]:
        value = self.values.get(key)
        if value is None or value == "" or value == []:
            raise _missing(self.name(key))
        if not isinstance(value, list):
            raise _invalid(f"Invalid array: {self.name(key)}", param=self.name(key))
        items = []
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                raise _invalid(f"Invalid hash: {self.name(key)}[{index}]")
            items.append(_Params(item, f"{self.name(key)}[{index}]"))
        return items

    def metadata(self) -> dict[str, str]:
        found = self.hash("metadata")
        if found is None:
            return {}
        if len(found.values) > 50:
            raise _invalid("Invalid metadata: at most 50 keys are allowed", param="metadata")
        out = {}
        for key in found.values:
            value = found.text(key)
            if len(key) > 40 or (value is not None and len(value) > 500):
                raise _invalid(
                    "Invalid metadata: keys are at most 40 characters, values at most 500",
                    param=found.name(key),
                )
            if value is not None:
                out[key] = value
        return out


# --- state ----------------------------------------------------------------------------------------


@dataclass(slots=True, kw_only=True)
class _Session:
    id: str
    created: int
    expires_at: int
    currency: str
    amount_total: int
    client_reference_id: str | None
    customer_email: str | None
    metadata: dict[str, str]
    success_url: str
    cancel_url: str | None
    status: SessionStatus = "open"
    payment_status: PaymentStatus = "unpaid"
    payment_intent: str | None = None

    def wire(self, base_url: str) -> CheckoutSession:
        return {
            "id": self.id,
            "object": "checkout.session",
            # Stripe shows the hosted page's URL only while the session can still be paid.
            "url": f"{base_url}/c/pay/{self.id}" if self.status == "open" else None,
            "status": self.status,
            "payment_status": self.payment_status,
            "amount_subtotal": self.amount_total,
            "amount_total": self.amount_total,
            "currency": self.currency,
            "client_reference_id": self.client_reference_id,
            "customer_email": self.customer_email,
            "metadata": dict(self.metadata),
            "expires_at": self.expires_at,
            "payment_intent": self.payment_intent,
            "created": self.created,
            "livemode": False,
            "mode": "payment",
            "success_url": self.success_url,
            "cancel_url": self.cancel_url,
        }


@dataclass(slots=True, kw_only=True)
class _PaymentIntent:
    id: str
    charge: str
    amount: int
    currency: str
    status: IntentStatus
    refunded: int = 0


@dataclass(frozen=True, slots=True)
class _Saved:
    """What an idempotency key is bound to, and the response Stripe replays for it."""

    endpoint: str
    params: dict[str, FormValue]
    body: bytes
    request_id: str


_Handler: TypeAlias = Callable[[Mapping[str, str], _Params], Mapping[str, object]]


@dataclass(slots=True)
class _Failures:
    remaining: int = 0
    status: int = 500


@dataclass(eq=False, kw_only=True)
class FakeStripe:
    """In-memory Stripe state and the aiohttp app serving it. `start()` before use, then
    `close()`; the `fake_stripe` fixture does both."""

    api_key: str = API_KEY
    clock: Clock = field(default_factory=SystemClock)
    calls: list[Call] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    refunds: list[Refund] = field(default_factory=list)
    internal_errors: list[BaseException] = field(default_factory=list)
    _base_url: str | None = field(default=None, init=False)
    _sessions: dict[str, _Session] = field(default_factory=dict, init=False)
    _intents: dict[str, _PaymentIntent] = field(default_factory=dict, init=False)
    _idempotency: dict[str, _Saved] = field(default_factory=dict, init=False)
    _failures: _Failures = field(default_factory=_Failures, init=False)
    _runner: web.AppRunner | None = field(default=None, init=False)
    _http: aiohttp.ClientSession | None = field(default=None, init=False)

    # --- lifecycle

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/checkout/sessions", self._api(self._create_session))
        app.router.add_get("/v1/checkout/sessions/{id}", self._api(self._retrieve_session))
        app.router.add_post("/v1/checkout/sessions/{id}/expire", self._api(self._expire_session))
        app.router.add_post("/v1/refunds", self._api(self._create_refund))
        app.router.add_route("*", "/v1/{tail:.*}", self._api(self._unrecognized))
        app.router.add_get("/c/pay/{id}", self._pay_page)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        port = self._runner.addresses[0][1]
        self._base_url = f"http://127.0.0.1:{port}"
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise FakeStripeError("the fake Stripe server is not started")
        return self._base_url

    # --- knobs and views for tests

    def fail_next(self, n: int = 1, status: int = 500) -> None:
        """The next `n` API calls answer `status` with a Stripe `api_error` (a 429 is shaped as a
        rate limit) before touching any state, so no idempotency key is consumed by them."""
        self._failures = _Failures(n, status)

    def session(self, session_id: str) -> CheckoutSession:
        return self._find_session(session_id).wire(self.base_url)

    @property
    def sessions(self) -> list[CheckoutSession]:
        return [session.wire(self.base_url) for session in self._sessions.values()]

    # --- the buyer's and Stripe's side

    async def complete(self, session_id: str, *, paid: bool = True) -> Event:
        """The buyer pays. `paid=False` is a delayed method (SEPA debit, ...): the session is
        complete but unpaid until `async_payment_succeeded` or `async_payment_failed`."""
        session = self._find_session(session_id)
        if session.status != "open":
            raise FakeStripeError(f"cannot complete {session_id}: it is {session.status}")
        intent = _PaymentIntent(
            id=new_id("pi_"),
            charge=new_id("ch_"),
            amount=session.amount_total,
            currency=session.currency,
            status="succeeded" if paid else "processing",
        )
        self._intents[intent.id] = intent
        session.status = "complete"
        session.payment_status = "paid" if paid else "unpaid"
        session.payment_intent = intent.id
        return self._event("checkout.session.completed", session)

    async def async_payment_succeeded(self, session_id: str) -> Event:
        session, intent = self._pending_payment(session_id)
        intent.status = "succeeded"
        session.payment_status = "paid"
        return self._event("checkout.session.async_payment_succeeded", session)

    async def async_payment_failed(self, session_id: str) -> Event:
        session, intent = self._pending_payment(session_id)
        intent.status = "requires_payment_method"
        return self._event("checkout.session.async_payment_failed", session)

    async def expire_event(self, session_id: str) -> Event:
        """The session times out (or was already expired through the API)."""
        session = self._find_session(session_id)
        if session.status == "complete":
            raise FakeStripeError(f"cannot expire {session_id}: it is complete")
        session.status = "expired"
        return self._event("checkout.session.expired", session)

    async def deliver(
        self,
        event: Mapping[str, object],
        url: str,
        *,
        secret: str,
        timestamp: int | None = None,
        signature: str | None = None,
    ) -> tuple[int, str]:
        """POST `event` to `url` as Stripe's webhook sender does. `timestamp` defaults to the
        real time (the receiver checks it against `time.time()`, not against our clock);
        `signature` replaces the whole `Stripe-Signature` header value, to forge one."""
        if self._http is None:
            raise FakeStripeError("the fake Stripe server is not started")
        payload = json.dumps(event, indent=2)
        header = signature
        if header is None:
            stamp = int(time.time()) if timestamp is None else timestamp
            header = str(stripe.WebhookSignature.generate_signature_header(payload, secret, stamp))
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Stripe-Signature": header,
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            "Accept": "*/*; q=0.5, application/xml",
        }
        async with self._http.post(url, data=payload.encode(), headers=headers) as response:
            return response.status, await response.text()

    def _find_session(self, session_id: str) -> _Session:
        try:
            return self._sessions[session_id]
        except KeyError:
            raise FakeStripeError(f"no session {session_id}") from None

    def _pending_payment(self, session_id: str) -> tuple[_Session, _PaymentIntent]:
        session = self._find_session(session_id)
        intent = self._intents.get(session.payment_intent or "")
        if intent is None or intent.status != "processing":
            raise FakeStripeError(f"{session_id} has no payment awaiting its outcome")
        return session, intent

    def _event(self, type_: EventType, session: _Session) -> Event:
        event: Event = {
            "id": new_id("evt_"),
            "object": "event",
            "api_version": stripe.api_version,
            "created": self._now(),
            "type": type_,
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "data": {"object": session.wire(self.base_url)},
        }
        self.events.append(event)
        return event

    def _now(self) -> int:
        return self.clock.now_ms() // 1000

    # --- the HTTP API

    def _api(self, handler: _Handler) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def endpoint(request: web.Request) -> web.Response:
            raw = await request.text() if request.method == "POST" else request.query_string
            return self._dispatch(request, raw, handler)

        return endpoint

    def _dispatch(self, request: web.Request, raw: str, handler: _Handler) -> web.Response:
        # Synchronous from here on: no other request can interleave between the idempotency
        # lookup, the state change and saving the response.
        key = request.headers.get("Idempotency-Key")
        version = request.headers.get("Stripe-Version")
        request_id = new_id("req_", 14)
        headers = {"Request-Id": request_id, "Stripe-Version": version or stripe.api_version}
        if key is not None:
            headers["Idempotency-Key"] = key
        params: dict[str, FormValue] = {}
        try:
            self._admit(request, version)
            params = parse_form(raw)
            saved = self._idempotency.get(key) if key and request.method == "POST" else None
            if saved is not None:
                status, body = 200, self._replay(saved, request, params, key or "")
                headers |= {"Idempotent-Replayed": "true", "Original-Request": saved.request_id}
            else:
                status = 200
                body = json.dumps(handler(request.match_info, _Params(params)), indent=2).encode()
                if key and request.method == "POST":
                    endpoint = f"{request.method} {request.path}"
                    self._idempotency[key] = _Saved(endpoint, params, body, request_id)
        except _ApiError as error:
            status, body = error.status, error.payload()
        except Exception as exc:  # a bug in the fake: answer like Stripe, and fail the test later
            self.internal_errors.append(exc)
            status, body = 500, _ApiError(500, "api_error", f"fake Stripe bug: {exc!r}").payload()
        self.calls.append(Call(request.method, request.path, key, params, status, version))
        return web.Response(
            status=status, body=body, content_type="application/json", headers=headers
        )

    def _admit(self, request: web.Request, version: str | None) -> None:
        if self._failures.remaining > 0:
            self._failures.remaining -= 1
            if self._failures.status == 429:
                raise _ApiError(
                    429,
                    "invalid_request_error",
                    "Request rate limit exceeded. Learn more about rate limits here "
                    "https://stripe.com/docs/rate-limits.",
                    code="rate_limit",
                )
            raise _ApiError(
                self._failures.status,
                "api_error",
                "Sorry, something went wrong. We've already been notified of the problem.",
            )
        authorization = request.headers.get("Authorization")
        if not authorization:
            raise _invalid(
                "You did not provide an API key. You need to provide your API key in the "
                "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
                "YOUR_SECRET_KEY').",
                status=401,
            )
        if authorization != f"Bearer {self.api_key}":
            given = authorization.removeprefix("Bearer ")
            redacted = given[:8] + "*" * max(len(given) - 12, 0) + given[-4:]
            raise _invalid(f"Invalid API Key provided: {redacted}", status=401)
        if version is not None and not re.fullmatch(r"\d{4}-\d{2}-\d{2}(\.[a-z]+)?", version):
            raise _invalid(f"Invalid Stripe API version: {version}")
        key = request.headers.get("Idempotency-Key")
        if key is not None and len(key) > 255:
            raise _invalid("Idempotency-Key is too long: it may be at most 255 characters.")

    def _replay(
        self, saved: _Saved, request: web.Request, params: dict[str, FormValue], key: str
    ) -> bytes:
        endpoint = f"{request.method} {request.path}"
        if saved.endpoint != endpoint:
            raise _ApiError(
                400,
                "idempotency_error",
                "Keys for idempotent requests can only be used for the same endpoint they were "
                f"first used for ('{endpoint}' vs '{saved.endpoint}'). Try using a key other "
                f"than '{key}' if you meant to execute a different request.",
            )
        if saved.params != params:
            raise _ApiError(
                400,
                "idempotency_error",
                "Keys for idempotent requests can only be used with the same parameters they "
                f"were first used with. Try using a key other than '{key}' if you meant to "
                "execute a different request.",
            )
        return saved.body

    def _create_session(self, _: Mapping[str, str], p: _Params) -> CheckoutSession:
        p.only(
            "mode",
            "line_items",
            "success_url",
            "cancel_url",
            "client_reference_id",
            "metadata",
            "expires_at",
            "customer_email",
        )
        mode = p.need_text("mode")
        if mode != "payment":
            raise _invalid(f"Invalid mode: {mode} (the fake supports only payment)", param="mode")
        success_url = p.need_text("success_url")
        currencies: set[str] = set()
        amount_total = 0
        for item in p.need_array("line_items"):
            item.only("price_data", "quantity")
            quantity = item.need_integer("quantity", minimum=1)
            price = item.need_hash("price_data")
            price.only("currency", "unit_amount", "product_data")
            currency = price.need_text("currency").lower()
            if not re.fullmatch(r"[a-z]{3}", currency):
                raise _invalid(f"Invalid currency: {currency}", param=price.name("currency"))
            currencies.add(currency)
            amount_total += price.need_integer("unit_amount", minimum=0) * quantity
            product = price.need_hash("product_data")
            product.only("name", "description")
            product.need_text("name")
        if len(currencies) > 1:
            raise _invalid("All line_items must use the same currency.", param="line_items")
        client_reference_id = p.text("client_reference_id")
        if client_reference_id is not None and len(client_reference_id) > 200:
            raise _invalid(
                "Invalid string: client_reference_id must be at most 200 characters",
                param="client_reference_id",
            )
        customer_email = p.text("customer_email")
        if customer_email is not None and "@" not in customer_email:
            raise _invalid(f"Invalid email address: {customer_email}", param="customer_email")
        now = self._now()
        expires_at = p.integer("expires_at")
        if expires_at is None:
            expires_at = now + MAX_EXPIRY_SECONDS
        elif expires_at - now < MIN_EXPIRY_SECONDS:
            raise _invalid(
                "The `expires_at` timestamp must be at least 30 minutes from Checkout Session "
                "creation.",
                param="expires_at",
            )
        elif expires_at - now > MAX_EXPIRY_SECONDS:
            raise _invalid(
                "The `expires_at` timestamp must be less than 24 hours from Checkout Session "
                "creation.",
                param="expires_at",
            )
        session = _Session(
            id=new_id("cs_test_", 58),
            created=now,
            expires_at=expires_at,
            currency=currencies.pop(),
            amount_total=amount_total,
            client_reference_id=client_reference_id,
            customer_email=customer_email,
            metadata=p.metadata(),
            success_url=success_url,
            cancel_url=p.text("cancel_url"),
        )
        self._sessions[session.id] = session
        return session.wire(self.base_url)

    def _session_at(self, match: Mapping[str, str]) -> _Session:
        session = self._sessions.get(match["id"])
        if session is None:
            raise _no_such("checkout.session", match["id"], "session", status=404)
        return session

    def _retrieve_session(self, match: Mapping[str, str], p: _Params) -> CheckoutSession:
        p.only()
        return self._session_at(match).wire(self.base_url)

    def _expire_session(self, match: Mapping[str, str], p: _Params) -> CheckoutSession:
        p.only()
        session = self._session_at(match)
        if session.status != "open":
            raise _invalid(
                'Only Checkout Sessions with a status in ["open"] can be expired. '
                f"This Checkout Session has a status of {session.status}."
            )
        session.status = "expired"
        return session.wire(self.base_url)

    def _create_refund(self, _: Mapping[str, str], p: _Params) -> Refund:
        p.only("payment_intent", "amount", "metadata", "reason")
        intent_id = p.text("payment_intent")
        if intent_id is None:
            raise _invalid(
                "One of the following params should be provided for this request: "
                "payment_intent or charge."
            )
        intent = self._intents.get(intent_id)
        if intent is None:
            raise _no_such("payment_intent", intent_id, "payment_intent", status=400)
        if intent.status != "succeeded":
            raise _invalid(
                f"This PaymentIntent ({intent.id}) does not have a successful charge to refund."
            )
        left = intent.amount - intent.refunded
        if left == 0:
            raise _invalid(
                f"Charge {intent.charge} has already been refunded.",
                code="charge_already_refunded",
            )
        amount = p.integer("amount", minimum=1)
        amount = left if amount is None else amount
        if amount > left:
            raise _invalid(
                f"Refund amount ({amount}) is greater than unrefunded amount on charge ({left})",
                param="amount",
                code="amount_too_large",
            )
        reason = p.text("reason")
        if reason not in (None, "duplicate", "fraudulent", "requested_by_customer"):
            raise _invalid(f"Invalid reason: {reason}", param="reason")
        intent.refunded += amount
        refund: Refund = {
            "id": new_id("re_"),
            "object": "refund",
            "amount": amount,
            "currency": intent.currency,
            "payment_intent": intent.id,
            "charge": intent.charge,
            "status": "succeeded",
            "reason": reason,
            "metadata": p.metadata(),
            "created": self._now(),
        }
        self.refunds.append(refund)
        return refund

    def _unrecognized(self, match: Mapping[str, str], _: _Params) -> Mapping[str, object]:
        raise _invalid(
            f"Unrecognized request URL (/v1/{match['tail']}). The fake Stripe API serves only "
            "what RushQueue calls.",
            status=404,
        )

    async def _pay_page(self, request: web.Request) -> web.Response:
        session = self._sessions.get(request.match_info["id"])
        if session is None or session.status != "open":
            raise web.HTTPNotFound(text="This checkout session is no longer available.")
        amount = f"{session.amount_total / 100:.2f} {session.currency.upper()}"
        return web.Response(
            text=f"<!doctype html><title>Fake Checkout</title><p>Pay {amount}</p>",
            content_type="text/html",
        )


@pytest.fixture
async def fake_stripe() -> AsyncIterator[FakeStripe]:
    """A started `FakeStripe` on 127.0.0.1 and a free port. Fails the test at teardown if the
    fake itself crashed while serving a request."""
    fake = FakeStripe()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.close()
    assert not fake.internal_errors, f"the fake Stripe API crashed: {fake.internal_errors!r}"
