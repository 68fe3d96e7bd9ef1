"""Request rate limits, the websocket cap, and the gateway's own Redis keys.

Rate limits are fixed windows counted in Redis, so every gateway shares them: one script call
per check increments each counter the request falls under (starting its window on the first
hit) and answers with the tightest one. Several counters of one request share the client IP's
hash tag, so the script stays inside one Redis Cluster slot.

If Redis cannot be reached the check lets the request through and logs a warning: a limiter
outage must not lock every buyer out, and the routes behind it fail on their own if they need
Redis too.

The client is `client_ip(request)`. Reached directly, that is the peer address. Behind a reverse
proxy every request would share the proxy's address, so `TRUSTED_PROXIES` names the proxies whose
`X-Forwarded-For` is believed: `proxy_middleware` walks the header from the right, past every
trusted hop, to the first address that is not one (the client as the outermost trusted proxy saw
it), and makes that the request's `remote`. Anything to the left of it was written by the client
and is ignored, and a header from a peer that is not a trusted proxy is never read at all: any
client can send one.
"""

from __future__ import annotations

import enum
import hashlib
import ipaddress
import logging
import math
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Final

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler, Middleware
from redis.exceptions import RedisError

from config.settings import IpNetwork, LimitSettings, Rate
from domain.errors import RateLimited
from engine.keys import PREFIX
from engine.redis_client import RedisClient

log = logging.getLogger(__name__)

# -- keys ------------------------------------------------------------------------------------
# Every Redis key the gateway itself writes. Counters live under `rq:limit:`, tagged with the
# subject that owns them (an IP, a user), so the counters of one check share a cluster slot.


def _tag(subject: str) -> str:
    return f"{PREFIX}:limit:{{{subject}}}"


def ip_key(rule: str, ip: str) -> str:
    return f"{_tag('ip:' + ip)}:{rule}"


def ip_email_key(rule: str, ip: str, email: str) -> str:
    # Hashed: bounded length, and no addresses lying around in Redis.
    digest = hashlib.sha256(email.encode()).hexdigest()[:24]
    return f"{_tag('ip:' + ip)}:{rule}:{digest}"


def user_key(rule: str, user_id: int) -> str:
    return f"{_tag(f'user:{user_id}')}:{rule}"


# -- the limiter ---------------------------------------------------------------------------

# KEYS: counters; ARGV: window ms then limit, per key. Returns {0, 0}, or the ms until the
# tightest exceeded window ends and that key's position (1-based). PTTL < 0 also repairs a
# counter that lost its expiry.
_CHECK: Final = """
local wait = 0
local tightest = 0
for i, key in ipairs(KEYS) do
    local window = tonumber(ARGV[2 * i - 1])
    local limit = tonumber(ARGV[2 * i])
    local count = redis.call('INCR', key)
    local ttl = redis.call('PTTL', key)
    if ttl < 0 then
        redis.call('PEXPIRE', key, window)
        ttl = window
    end
    if count > limit and ttl > wait then
        wait = ttl
        tightest = i
    end
end
return {wait, tightest}
"""


class LimitRule(enum.StrEnum):
    """What refused a request, as the refusals metric counts it."""

    LOGIN_IP = "login_ip"
    LOGIN_EMAIL = "login_email"
    SIGNUP_IP = "signup_ip"
    SIGNUP_EMAIL = "signup_email"
    HOLDS_USER = "holds_user"
    SEAT_MAP_IP = "seat_map_ip"
    QUEUE_JOIN_IP = "queue_join_ip"
    QUEUE_SOCKET_IP = "queue_socket_ip"
    WEBSOCKET_CAP = "websocket_cap"


# Told of every refusal (the gateway's metrics count them by rule).
OnRefused = Callable[[LimitRule], None]


@dataclass(frozen=True, slots=True)
class Rule:
    key: str
    rate: Rate
    name: LimitRule


class RateLimiter:
    def __init__(
        self, redis: RedisClient, settings: LimitSettings, *, on_refused: OnRefused | None = None
    ) -> None:
        self._script = redis.register_script(_CHECK)
        self.settings = settings
        self._on_refused = on_refused

    async def check(self, *rules: Rule) -> None:
        """Count this request against every rule; `RateLimited` if any is over its limit."""
        if not self.settings.enabled or not rules:
            return
        args: list[int] = []
        for rule in rules:
            args += [rule.rate.seconds * 1000, rule.rate.count]
        try:
            wait_ms, tightest = await self._script(keys=[rule.key for rule in rules], args=args)
        except RedisError as exc:
            log.warning("rate limits not checked, Redis is unavailable: %s", exc)
            return
        if wait_ms > 0:
            if self._on_refused is not None:
                self._on_refused(rules[tightest - 1].name)
            retry_after = max(1, math.ceil(wait_ms / 1000))
            raise RateLimited(
                f"Too many requests; try again in {retry_after} s", retry_after=retry_after
            )

    async def login(self, ip: str, email: str) -> None:
        limits = self.settings
        await self.check(
            Rule(ip_key("login", ip), limits.login_per_ip, LimitRule.LOGIN_IP),
            Rule(ip_email_key("login", ip, email), limits.login_per_email, LimitRule.LOGIN_EMAIL),
        )

    async def signup(self, ip: str, email: str) -> None:
        limits = self.settings
        await self.check(
            Rule(ip_key("signup", ip), limits.signup_per_ip, LimitRule.SIGNUP_IP),
            Rule(
                ip_email_key("signup", ip, email), limits.signup_per_email, LimitRule.SIGNUP_EMAIL
            ),
        )

    async def hold(self, user_id: int) -> None:
        await self.check(
            Rule(user_key("holds", user_id), self.settings.holds_per_user, LimitRule.HOLDS_USER)
        )

    async def seat_map(self, ip: str) -> None:
        await self.check(
            Rule(ip_key("seat_map", ip), self.settings.seat_map_per_ip, LimitRule.SEAT_MAP_IP)
        )

    async def queue_join(self, ip: str) -> None:
        await self.check(
            Rule(ip_key("queue_join", ip), self.settings.queue_join_per_ip, LimitRule.QUEUE_JOIN_IP)
        )

    async def queue_socket(self, ip: str) -> None:
        await self.check(
            Rule(
                ip_key("queue_socket", ip),
                self.settings.queue_socket_per_ip,
                LimitRule.QUEUE_SOCKET_IP,
            )
        )


# -- the client's address --------------------------------------------------------------------


def client_ip(request: web.Request) -> str:
    """The client every per-IP limit counts: the peer, or behind trusted proxies the address
    `proxy_middleware` settled on (it replaces `remote`), never a header read here."""
    return request.remote or "unknown"


def forwarded_client(
    peer: str | None, forwarded_for: Iterable[str], trusted: tuple[IpNetwork, ...]
) -> str | None:
    """The client's address behind a chain of trusted proxies, or None to keep the peer.

    The standard right-to-left walk: each trusted hop appends the address it was reached from,
    so starting from the peer, every hop that is a trusted proxy vouches for the one to its
    left, and the first one that is not a trusted proxy is the client. A malformed entry ends
    the walk at the last hop known good: what lies beyond it cannot be read, let alone trusted.
    If every hop is trusted, the leftmost one is the client."""
    if not _is_trusted(peer, trusted):
        return None
    hops = [hop.strip() for value in forwarded_for for hop in value.split(",")]
    client: str | None = None
    for hop in reversed(hops):
        try:
            address = ipaddress.ip_address(hop)
        except ValueError:
            return client
        client = str(address)
        if not any(address in network for network in trusted):
            return client
    return client


def _is_trusted(peer: str | None, trusted: tuple[IpNetwork, ...]) -> bool:
    if peer is None or not trusted:
        return False
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:  # a Unix socket's path, say
        return False
    return any(address in network for network in trusted)


def proxy_middleware(trusted: tuple[IpNetwork, ...]) -> Middleware:
    """Sets each request's `remote` to its client behind the trusted proxies. Outermost, so
    the access log, the limits and the websocket cap all see the same client."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        client = forwarded_client(
            request.remote, request.headers.getall(hdrs.X_FORWARDED_FOR, ()), trusted
        )
        if client is not None and client != request.remote:
            request = request.clone(remote=client)
        return await handler(request)

    return middleware


# -- websockets ----------------------------------------------------------------------------

# How long a refused socket is told to wait: long enough for one of its siblings to close.
WEBSOCKET_RETRY_AFTER: Final = 5


class WebsocketCap:
    """Open websockets (seat maps and queue screens) per client IP, counted in this process.

    Each gateway protects its own file descriptors and memory, which is what the cap is for, so
    a shared count would buy nothing but a Redis round trip per connect; a client spread over
    several gateways gets the cap once per gateway.
    """

    def __init__(self, settings: LimitSettings, *, on_refused: OnRefused | None = None) -> None:
        self._settings = settings
        self._open: Counter[str] = Counter()
        self._on_refused = on_refused

    def open_for(self, ip: str) -> int:
        return self._open[ip]

    @contextmanager
    def hold_slot(self, ip: str) -> Iterator[None]:
        """Take one of `ip`'s slots for the block; `RateLimited` if it has none left."""
        if self._settings.enabled and self._open[ip] >= self._settings.websockets_per_ip:
            if self._on_refused is not None:
                self._on_refused(LimitRule.WEBSOCKET_CAP)
            raise RateLimited(
                f"At most {self._settings.websockets_per_ip} live connections (seat maps and "
                "queues) per client",
                retry_after=WEBSOCKET_RETRY_AFTER,
            )
        self._open[ip] += 1
        try:
            yield
        finally:
            self._open[ip] -= 1
            if not self._open[ip]:
                del self._open[ip]
