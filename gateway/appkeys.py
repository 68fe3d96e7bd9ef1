"""Typed application and request state."""

from __future__ import annotations

import aiojobs
from aiohttp import web

from config import Settings
from engine.client import EngineClient
from engine.redis_client import RedisClient
from gateway.auth.passwords import PasswordHasher
from gateway.auth.principal import Principal
from gateway.auth.revocation import Revocations
from gateway.auth.tokens import TokenCodec
from gateway.layouts import LayoutCache
from gateway.limits import RateLimiter, WebsocketCap
from gateway.livestate import LiveStates
from gateway.metrics import GatewayMetrics
from gateway.payments.provider import PaymentProvider
from gateway.queuefeed import QueueFeed
from gateway.seatfeed import SeatFeed
from persistence import Database

SETTINGS = web.AppKey("settings", Settings)
DATABASE = web.AppKey("database", Database)
# A union is no class, so the key is typed by its parameter rather than by a runtime type.
REDIS = web.AppKey[RedisClient]("redis")
ENGINE = web.AppKey("engine", EngineClient)
SEAT_FEED = web.AppKey("seat_feed", SeatFeed)
QUEUE_FEED = web.AppKey("queue_feed", QueueFeed)
SCHEDULER = web.AppKey("scheduler", aiojobs.Scheduler)
PAYMENTS = web.AppKey("payments", PaymentProvider)
PASSWORDS = web.AppKey("passwords", PasswordHasher)
TOKENS = web.AppKey("tokens", TokenCodec)
LIMITER = web.AppKey("limiter", RateLimiter)
REVOCATIONS = web.AppKey("revocations", Revocations)
WEBSOCKET_CAP = web.AppKey("websocket_cap", WebsocketCap)
METRICS = web.AppKey("metrics", GatewayMetrics)
LAYOUTS = web.AppKey("layouts", LayoutCache)
LIVE_STATES = web.AppKey("live_states", LiveStates)

PRINCIPAL = web.RequestKey("principal", Principal)
