"""HTTP routes, one module per resource. `ROUTE_TABLES` is what the app mounts."""

from __future__ import annotations

from aiohttp import web

from gateway.routes import admin, auth, catalog, health, holds, seats_ws

ROUTE_TABLES: tuple[web.RouteTableDef, ...] = (
    health.routes,
    auth.routes,
    catalog.routes,
    admin.routes,
    holds.routes,
    seats_ws.routes,
)
