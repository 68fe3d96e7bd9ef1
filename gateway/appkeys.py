"""Typed application and request state."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    import aiojobs
    from redis.asyncio import Redis

    from config import Settings
    from engine.client import EngineClient
    from gateway.auth.passwords import PasswordHasher
    from gateway.auth.principal import Principal
    from gateway.auth.tokens import TokenCodec
    from gateway.seatfeed import SeatFeed
    from persistence import Database

SETTINGS = web.AppKey["Settings"]("settings")
DATABASE = web.AppKey["Database"]("database")
REDIS = web.AppKey["Redis"]("redis")
ENGINE = web.AppKey["EngineClient"]("engine")
SEAT_FEED = web.AppKey["SeatFeed"]("seat_feed")
SCHEDULER = web.AppKey["aiojobs.Scheduler"]("scheduler")
PASSWORDS = web.AppKey["PasswordHasher"]("passwords")
TOKENS = web.AppKey["TokenCodec"]("tokens")

PRINCIPAL = web.RequestKey["Principal"]("principal")
