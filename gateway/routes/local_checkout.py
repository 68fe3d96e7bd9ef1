"""The local checkout's hosted page (development only; see `gateway.payments.local_checkout`).

Outside `/api/`, so the guard lets anyone in: like Stripe's hosted page, knowing the unguessable
session id is what grants access. With a Stripe key configured every route here is a 404.
"""

from __future__ import annotations

from aiohttp import web

from domain.errors import NotFound
from domain.statuses import PaymentStatus
from gateway.appkeys import PAYMENTS
from gateway.payments.local_checkout import LOCAL_PATH, LocalCheckout, LocalSession
from gateway.routes.pages import html_page
from gateway.views.payments import local_checkout_html

routes = web.RouteTableDef()


def _local(request: web.Request) -> LocalCheckout:
    provider = request.app[PAYMENTS]
    if not isinstance(provider, LocalCheckout):
        raise NotFound("No such resource")
    return provider


def _page(request: web.Request, session: LocalSession) -> web.Response:
    return html_page(request, local_checkout_html(session))


@routes.get(LOCAL_PATH + "{session_id}")
async def page(request: web.Request) -> web.Response:
    return _page(request, await _local(request).session(request.match_info["session_id"]))


@routes.post(LOCAL_PATH + "{session_id}/pay")
async def pay(request: web.Request) -> web.Response:
    local = _local(request)
    session = await local.session(request.match_info["session_id"])
    if session.payment.status is not PaymentStatus.OPEN:
        return _page(
            request, session
        )  # a resubmitted form: nothing to pay any more, show the state
    raise web.HTTPSeeOther(await local.pay(session.payment))


@routes.post(LOCAL_PATH + "{session_id}/cancel")
async def cancel(request: web.Request) -> web.Response:
    local = _local(request)
    session = await local.session(request.match_info["session_id"])
    if session.payment.status is not PaymentStatus.OPEN:
        return _page(request, session)
    raise web.HTTPSeeOther(await local.cancel(session.payment))
