"""The buyer's bookings: what a confirmed payment bought."""

from __future__ import annotations

from aiohttp import web

from gateway.appkeys import DATABASE
from gateway.auth.guard import current_user
from gateway.views.payments import booking_view
from gateway.wire import json_response
from persistence.payments import list_bookings

routes = web.RouteTableDef()


@routes.get("/api/v1/bookings")
async def my_bookings(request: web.Request) -> web.Response:
    user = current_user(request)
    async with request.app[DATABASE].transaction() as conn:
        bookings = await list_bookings(conn, user.user_id)
    return json_response({"bookings": [booking_view(booking) for booking in bookings]})
