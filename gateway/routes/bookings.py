"""The buyer's bookings: what a confirmed payment bought, and which of an event's seats are the
buyer's own (the page marks them "yours" and counts them against the per-buyer limit)."""

from __future__ import annotations

from aiohttp import web

from domain.errors import NotFound
from gateway.appkeys import DATABASE
from gateway.auth.guard import current_user
from gateway.views.payments import booking_view, my_seats_view
from gateway.wire import json_response, path_id
from persistence.payments import booked_seat_ids, list_bookings

routes = web.RouteTableDef()


@routes.get("/api/v1/bookings")
async def my_bookings(request: web.Request) -> web.Response:
    user = current_user(request)
    async with request.app[DATABASE].transaction() as conn:
        bookings = await list_bookings(conn, user.user_id)
    return json_response({"bookings": [booking_view(booking) for booking in bookings]})


@routes.get("/api/v1/events/{event_id}/my-seats")
async def my_seats(request: web.Request) -> web.Response:
    event_id = path_id(request, "event_id")
    user = current_user(request)
    async with request.app[DATABASE].transaction() as conn:
        booked = await booked_seat_ids(conn, event_id, user.user_id)
    if booked is None:
        raise NotFound(f"No event {event_id}")
    return json_response(my_seats_view(event_id, booked))
