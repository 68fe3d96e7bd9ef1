"""The fake Stripe API, driven by the real `stripe` library as the app drives it."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import aiohttp
import pytest
import stripe
from aiohttp import web

from tests.helpers.fake_stripe import FakeStripe, FakeStripeError

if TYPE_CHECKING:
    from pytest_aiohttp import AiohttpServer
    from stripe.params.checkout import SessionCreateParams

WEBHOOK_SECRET = "whsec_test_secret"


@pytest.fixture
async def make_client(fake_stripe: FakeStripe) -> AsyncIterator[Callable[..., stripe.StripeClient]]:
    """StripeClients built the way the app builds them; their aiohttp sessions are closed after
    the test."""
    http_clients: list[stripe.AIOHTTPClient] = []

    def make(api_key: str = fake_stripe.api_key) -> stripe.StripeClient:
        http_client = stripe.AIOHTTPClient()
        http_clients.append(http_client)
        return stripe.StripeClient(
            api_key, base_addresses={"api": fake_stripe.base_url}, http_client=http_client
        )

    yield make
    for http_client in http_clients:
        # The stripe library leaves `close_async` unannotated.
        await http_client.close_async()  # type: ignore[no-untyped-call]


@pytest.fixture
def stripe_client(make_client: Callable[..., stripe.StripeClient]) -> stripe.StripeClient:
    return make_client()


def session_params(**overrides: object) -> SessionCreateParams:
    params: SessionCreateParams = {
        "mode": "payment",
        "line_items": [
            {
                "price_data": {
                    "currency": "eur",
                    "unit_amount": 5000,
                    "product_data": {"name": "Seat A-1"},
                },
                "quantity": 2,
            },
            {
                "price_data": {
                    "currency": "eur",
                    "unit_amount": 2500,
                    "product_data": {"name": "Seat B-7"},
                },
                "quantity": 1,
            },
        ],
        "success_url": "https://rushqueue.test/paid?session={CHECKOUT_SESSION_ID}",
        "cancel_url": "https://rushqueue.test/cancelled",
        "client_reference_id": "hold-42",
        "metadata": {"hold_id": "42", "user_id": "7"},
        "expires_at": int(time.time()) + 45 * 60,
    }
    params.update(overrides)  # type: ignore[typeddict-item]
    return params


async def test_create_session_returns_an_open_checkout_session(
    fake_stripe: FakeStripe, stripe_client: stripe.StripeClient
) -> None:
    params = session_params()
    session = await stripe_client.v1.checkout.sessions.create_async(
        params, options={"idempotency_key": "hold-42-checkout"}
    )

    assert session.id.startswith("cs_test_")
    assert session.object == "checkout.session"
    assert session.status == "open"
    assert session.payment_status == "unpaid"
    assert session.amount_total == 2 * 5000 + 2500
    assert session.currency == "eur"
    assert session.client_reference_id == "hold-42"
    assert session.metadata is not None
    assert session.metadata.to_dict() == {"hold_id": "42", "user_id": "7"}
    assert session.expires_at == params["expires_at"]
    assert session.payment_intent is None
    assert session.livemode is False
    assert session.url is not None
    assert session.url.startswith(fake_stripe.base_url)
    async with aiohttp.ClientSession() as http, http.get(session.url) as page:
        assert page.status == 200
        assert "125.00 EUR" in await page.text()

    call = fake_stripe.calls[-1]
    assert (call.method, call.path, call.status) == ("POST", "/v1/checkout/sessions", 200)
    assert call.idempotency_key == "hold-42-checkout"
    assert call.stripe_version == stripe.api_version
    line_items = call.params["line_items"]
    assert isinstance(line_items, list)
    assert line_items[1] == {
        "price_data": {
            "currency": "eur",
            "unit_amount": "2500",
            "product_data": {"name": "Seat B-7"},
        },
        "quantity": "1",
    }


async def test_same_idempotency_key_and_params_replays_the_same_session(
    fake_stripe: FakeStripe, stripe_client: stripe.StripeClient
) -> None:
    params = session_params()
    first = await stripe_client.v1.checkout.sessions.create_async(
        params, options={"idempotency_key": "k1"}
    )
    again = await stripe_client.v1.checkout.sessions.create_async(
        params, options={"idempotency_key": "k1"}
    )
    other = await stripe_client.v1.checkout.sessions.create_async(
        params, options={"idempotency_key": "k2"}
    )

    assert again.id == first.id
    assert other.id != first.id
    assert [session["id"] for session in fake_stripe.sessions] == [first.id, other.id]


async def test_same_idempotency_key_with_other_params_or_endpoint_is_refused(
    fake_stripe: FakeStripe, stripe_client: stripe.StripeClient
) -> None:
    await stripe_client.v1.checkout.sessions.create_async(
        session_params(), options={"idempotency_key": "k1"}
    )

    with pytest.raises(stripe.IdempotencyError, match="same parameters") as caught:
        await stripe_client.v1.checkout.sessions.create_async(
            session_params(client_reference_id="hold-43"), options={"idempotency_key": "k1"}
        )
    assert caught.value.http_status == 400
    assert caught.value.error is not None
    assert caught.value.error.type == "idempotency_error"

    with pytest.raises(stripe.IdempotencyError, match="same endpoint"):
        await stripe_client.v1.refunds.create_async(
            {"payment_intent": "pi_x"}, options={"idempotency_key": "k1"}
        )
    assert len(fake_stripe.sessions) == 1


@pytest.mark.parametrize("minutes_ahead", [10, 29, 24 * 60 + 1, -5])
async def test_expires_at_outside_30_minutes_to_24_hours_is_refused(
    fake_stripe: FakeStripe, stripe_client: stripe.StripeClient, minutes_ahead: int
) -> None:
    params = session_params(expires_at=int(time.time()) + minutes_ahead * 60)

    with pytest.raises(stripe.InvalidRequestError, match="expires_at") as caught:
        await stripe_client.v1.checkout.sessions.create_async(params)

    assert caught.value.param == "expires_at"
    assert caught.value.http_status == 400
    assert fake_stripe.sessions == []


async def test_expires_at_defaults_to_24_hours(stripe_client: stripe.StripeClient) -> None:
    params = session_params()
    del params["expires_at"]
    before = int(time.time())

    session = await stripe_client.v1.checkout.sessions.create_async(params)

    assert before + 24 * 3600 <= session.expires_at <= int(time.time()) + 24 * 3600


@pytest.mark.parametrize(
    ("overrides", "param", "code"),
    [
        ({"mode": None}, "mode", "parameter_missing"),
        ({"success_url": None}, "success_url", "parameter_missing"),
        (
            {"line_items": [{"price_data": {"currency": "eur", "unit_amount": 1}}]},
            "line_items[0][quantity]",
            "parameter_missing",
        ),
        (
            {"line_items": [{"quantity": 1, "price_data": {"currency": "eur", "unit_amount": 1}}]},
            "line_items[0][price_data][product_data]",
            "parameter_missing",
        ),
        ({"payment_intent_data": {"metadata": {"a": "b"}}}, "payment_intent_data", None),
        ({"expires_at": "soon"}, "expires_at", "parameter_invalid_integer"),
    ],
)
async def test_bad_params_are_refused_with_the_param_named(
    stripe_client: stripe.StripeClient, overrides: dict[str, object], param: str, code: str | None
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        await stripe_client.v1.checkout.sessions.create_async(session_params(**overrides))

    assert caught.value.param == param
    assert caught.value.code == code


async def test_retrieve_returns_the_session_or_resource_missing(
    stripe_client: stripe.StripeClient,
) -> None:
    created = await stripe_client.v1.checkout.sessions.create_async(session_params())

    found = await stripe_client.v1.checkout.sessions.retrieve_async(created.id)
    assert found.id == created.id
    assert found.amount_total == 12500
    assert found.metadata is not None
    assert found.metadata.to_dict() == {"hold_id": "42", "user_id": "7"}

    with pytest.raises(stripe.InvalidRequestError) as caught:
        await stripe_client.v1.checkout.sessions.retrieve_async("cs_test_missing")
    assert caught.value.http_status == 404
    assert caught.value.code == "resource_missing"
    assert "cs_test_missing" in str(caught.value)


async def test_expire_closes_an_open_session_once(
    fake_stripe: FakeStripe, stripe_client: stripe.StripeClient
) -> None:
    created = await stripe_client.v1.checkout.sessions.create_async(session_params())

    expired = await stripe_client.v1.checkout.sessions.expire_async(created.id)
    assert expired.status == "expired"
    assert expired.url is None
    assert fake_stripe.session(created.id)["status"] == "expired"

    with pytest.raises(stripe.InvalidRequestError, match=r'status in \["open"\]') as caught:
        await stripe_client.v1.checkout.sessions.expire_async(created.id)
    assert caught.value.http_status == 400

    with pytest.raises(FakeStripeError):
        await fake_stripe.complete(created.id)


async def test_expire_refuses_a_completed_session(
    fake_stripe: FakeStripe, stripe_client: stripe.StripeClient
) -> None:
    created = await stripe_client.v1.checkout.sessions.create_async(session_params())
    await fake_stripe.complete(created.id)

    with pytest.raises(stripe.InvalidRequestError, match="status of complete"):
        await stripe_client.v1.checkout.sessions.expire_async(created.id)
    assert fake_stripe.session(created.id)["status"] == "complete"


async def test_refunds_after_payment_up_to_the_amount_paid(
    fake_stripe: FakeStripe, stripe_client: stripe.StripeClient
) -> None:
    created = await stripe_client.v1.checkout.sessions.create_async(session_params())
    event = await fake_stripe.complete(created.id)
    paid = await stripe_client.v1.checkout.sessions.retrieve_async(created.id)
    assert paid.status == "complete"
    assert paid.payment_status == "paid"
    intent = paid.payment_intent
    assert isinstance(intent, str)
    assert intent.startswith("pi_")
    assert event["data"]["object"]["payment_intent"] == intent

    partial = await stripe_client.v1.refunds.create_async(
        {"payment_intent": intent, "amount": 5000}, options={"idempotency_key": "refund-1"}
    )
    replayed = await stripe_client.v1.refunds.create_async(
        {"payment_intent": intent, "amount": 5000}, options={"idempotency_key": "refund-1"}
    )
    assert partial.id.startswith("re_")
    assert (partial.object, partial.status, partial.amount) == ("refund", "succeeded", 5000)
    assert partial.currency == "eur"
    assert partial.payment_intent == intent
    assert replayed.id == partial.id

    with pytest.raises(stripe.InvalidRequestError, match="greater than") as too_much:
        await stripe_client.v1.refunds.create_async({"payment_intent": intent, "amount": 7501})
    assert too_much.value.param == "amount"

    rest = await stripe_client.v1.refunds.create_async({"payment_intent": intent})
    assert rest.amount == 7500
    assert [refund["amount"] for refund in fake_stripe.refunds] == [5000, 7500]

    with pytest.raises(stripe.InvalidRequestError) as again:
        await stripe_client.v1.refunds.create_async({"payment_intent": intent})
    assert again.value.code == "charge_already_refunded"


async def test_refund_of_an_unknown_payment_intent_is_resource_missing(
    stripe_client: stripe.StripeClient,
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        await stripe_client.v1.refunds.create_async({"payment_intent": "pi_unknown"})

    assert caught.value.http_status == 400
    assert caught.value.code == "resource_missing"
    assert caught.value.param == "payment_intent"


async def test_delayed_payment_is_refundable_only_once_it_succeeds(
    fake_stripe: FakeStripe, stripe_client: stripe.StripeClient
) -> None:
    created = await stripe_client.v1.checkout.sessions.create_async(session_params())
    completed = await fake_stripe.complete(created.id, paid=False)
    session = completed["data"]["object"]
    assert (session["status"], session["payment_status"]) == ("complete", "unpaid")
    intent = session["payment_intent"]
    assert intent is not None

    with pytest.raises(stripe.InvalidRequestError, match="successful charge"):
        await stripe_client.v1.refunds.create_async({"payment_intent": intent})

    succeeded = await fake_stripe.async_payment_succeeded(created.id)
    assert succeeded["type"] == "checkout.session.async_payment_succeeded"
    assert succeeded["data"]["object"]["payment_status"] == "paid"
    refund = await stripe_client.v1.refunds.create_async({"payment_intent": intent})
    assert refund.amount == 12500

    with pytest.raises(FakeStripeError):
        await fake_stripe.async_payment_failed(created.id)


async def test_failed_delayed_payment_and_expiry_events(
    fake_stripe: FakeStripe, stripe_client: stripe.StripeClient
) -> None:
    delayed = await stripe_client.v1.checkout.sessions.create_async(session_params())
    await fake_stripe.complete(delayed.id, paid=False)
    failed = await fake_stripe.async_payment_failed(delayed.id)
    assert failed["type"] == "checkout.session.async_payment_failed"
    assert failed["data"]["object"]["payment_status"] == "unpaid"

    abandoned = await stripe_client.v1.checkout.sessions.create_async(session_params())
    expired = await fake_stripe.expire_event(abandoned.id)
    assert expired["type"] == "checkout.session.expired"
    assert expired["data"]["object"]["status"] == "expired"
    assert expired["data"]["object"]["url"] is None
    assert expired["api_version"] == stripe.api_version
    assert expired["id"].startswith("evt_")
    assert [event["type"] for event in fake_stripe.events] == [
        "checkout.session.completed",
        "checkout.session.async_payment_failed",
        "checkout.session.expired",
    ]


async def test_a_wrong_api_key_is_an_authentication_error(
    fake_stripe: FakeStripe, make_client: Callable[..., stripe.StripeClient]
) -> None:
    wrong = make_client("sk_test_wrong_key_1234")

    with pytest.raises(stripe.AuthenticationError, match=r"\*+1234") as caught:
        await wrong.v1.checkout.sessions.create_async(session_params())

    assert caught.value.http_status == 401
    assert "sk_test_wrong_key_1234" not in str(caught.value)
    assert fake_stripe.sessions == []


async def test_a_missing_api_key_is_refused(fake_stripe: FakeStripe) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{fake_stripe.base_url}/v1/checkout/sessions/cs_test_x") as response,
    ):
        assert response.status == 401
        body = await response.json()
    assert body["error"]["type"] == "invalid_request_error"
    assert "did not provide an API key" in body["error"]["message"]


async def test_fail_next_fails_that_many_calls_without_using_up_the_key(
    fake_stripe: FakeStripe, stripe_client: stripe.StripeClient
) -> None:
    fake_stripe.fail_next(2)
    params = session_params()

    for _ in range(2):
        with pytest.raises(stripe.APIError) as caught:
            await stripe_client.v1.checkout.sessions.create_async(
                params, options={"idempotency_key": "k1"}
            )
        assert caught.value.http_status == 500
        assert caught.value.error is not None
        assert caught.value.error.type == "api_error"
    session = await stripe_client.v1.checkout.sessions.create_async(
        params, options={"idempotency_key": "k1"}
    )

    assert session.status == "open"
    assert [(call.status, call.idempotency_key) for call in fake_stripe.calls] == [
        (500, "k1"),
        (500, "k1"),
        (200, "k1"),
    ]


async def test_fail_next_429_is_a_rate_limit_error(
    fake_stripe: FakeStripe, stripe_client: stripe.StripeClient
) -> None:
    fake_stripe.fail_next(1, status=429)

    with pytest.raises(stripe.RateLimitError):
        await stripe_client.v1.checkout.sessions.retrieve_async("cs_test_x")


@dataclass
class Receiver:
    """A webhook endpoint verifying the way the app must."""

    events: list[stripe.Event] = field(default_factory=list)
    content_types: list[str] = field(default_factory=list)
    rejections: list[stripe.SignatureVerificationError] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        payload = await request.read()
        self.content_types.append(request.headers.get("Content-Type", ""))
        try:
            event: stripe.Event = stripe.Webhook.construct_event(
                payload, request.headers.get("Stripe-Signature"), WEBHOOK_SECRET
            )
        except stripe.SignatureVerificationError as exc:
            self.rejections.append(exc)
            return web.Response(status=400, text="bad signature")
        self.events.append(event)
        return web.Response(text="ok")


@pytest.fixture
async def receiver(aiohttp_server: AiohttpServer) -> tuple[Receiver, str]:
    receiver = Receiver()
    app = web.Application()
    app.router.add_post("/webhooks/stripe", receiver.handle)
    server = await aiohttp_server(app)
    return receiver, str(server.make_url("/webhooks/stripe"))


async def test_delivered_events_verify_with_the_stripe_library(
    fake_stripe: FakeStripe, stripe_client: stripe.StripeClient, receiver: tuple[Receiver, str]
) -> None:
    endpoint, url = receiver
    created = await stripe_client.v1.checkout.sessions.create_async(session_params())
    event = await fake_stripe.complete(created.id)

    assert await fake_stripe.deliver(event, url, secret=WEBHOOK_SECRET) == (200, "ok")

    [received] = endpoint.events
    assert received.id == event["id"]
    assert received.type == "checkout.session.completed"
    assert received.api_version == stripe.api_version
    assert received.data.object["id"] == created.id
    assert received.data.object["payment_status"] == "paid"
    assert received.data.object["metadata"]["hold_id"] == "42"
    assert endpoint.content_types == ["application/json; charset=utf-8"]


@pytest.mark.parametrize(
    "forge",
    [
        {"signature": "t=1700000000,v1=" + "0" * 64},
        {"secret": "whsec_someone_else"},
        {"timestamp": int(time.time()) - 3600},
        {"signature": "garbage"},
    ],
    ids=["forged", "wrong-secret", "stale", "garbage"],
)
async def test_forged_or_stale_signatures_fail_verification(
    fake_stripe: FakeStripe,
    stripe_client: stripe.StripeClient,
    receiver: tuple[Receiver, str],
    forge: dict[str, object],
) -> None:
    endpoint, url = receiver
    created = await stripe_client.v1.checkout.sessions.create_async(session_params())
    event = await fake_stripe.expire_event(created.id)
    secret = str(forge.get("secret", WEBHOOK_SECRET))
    timestamp = forge.get("timestamp")
    signature = forge.get("signature")
    assert timestamp is None or isinstance(timestamp, int)
    assert signature is None or isinstance(signature, str)

    status, body = await fake_stripe.deliver(
        event, url, secret=secret, timestamp=timestamp, signature=signature
    )

    assert (status, body) == (400, "bad signature")
    assert endpoint.events == []
    assert len(endpoint.rejections) == 1


@pytest.mark.parametrize(("method", "path"), [("GET", "/v1/customers"), ("GET", "/v1/refunds")])
async def test_endpoints_the_fake_does_not_serve_are_unrecognized(
    fake_stripe: FakeStripe, method: str, path: str
) -> None:
    headers = {"Authorization": f"Bearer {fake_stripe.api_key}"}
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, fake_stripe.base_url + path, headers=headers) as response,
    ):
        assert response.status == 404
        body = await response.json()
    assert body["error"]["type"] == "invalid_request_error"
    assert body["error"]["message"].startswith("Unrecognized request URL")
