"""HTTP routes, one module per resource. `ROUTE_TABLES` is what the app mounts."""

from __future__ import annotations

from aiohttp import web

from gateway.routes import (
    admin,
    auth,
    bookings,
    catalog,
    health,
    holds,
    local_checkout,
    openapi,
    pages,
    payments,
    queue,
    queue_ws,
    seats_ws,
    waiting_rooms,
)

ROUTE_TABLES: tuple[web.RouteTableDef, ...] = (
    health.routes,
    auth.routes,
    catalog.routes,
    admin.routes,
    waiting_rooms.routes,
    holds.routes,
    seats_ws.routes,
    queue.routes,
    queue_ws.routes,
    openapi.routes,
    payments.routes,
    bookings.routes,
    local_checkout.routes,
    pages.routes,
)
