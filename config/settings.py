"""Settings from the environment (12-factor).

Every value is parsed and checked once, at start-up, by `Settings.from_env`. A bad value raises
`SettingsError` whose message names the variable, so a process can print one line and stop.
"""

from __future__ import annotations

import enum
import ipaddress
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Final, TypeVar
from urllib.parse import unquote, urlsplit

T = TypeVar("T")

# Local-development defaults only; production refuses to start with them.
DEV_JWT_SECRET: Final = "rushqueue-local-dev-secret-change-me-0123456789"  # noqa: S105
DEV_WEBHOOK_SECRET: Final = "whsec_rushqueue_local_dev"  # noqa: S105
DEV_DATABASE_URL: Final = "mysql://rushqueue:rushqueue@127.0.0.1:3306/rushqueue"
# Above the engine's 2 s row-lock waits (persistence.seat_state.FENCE_WAIT_SECONDS): a shorter
# read timeout would turn a lock wait that ends in a retried conflict into an outage.
_MIN_DB_READ_TIMEOUT: Final = 3.0

# The engine looks at its journal every half of WRITE_BEHIND_BACKUP_MS; below this it would
# mostly race the flusher process for the same entries.
_MIN_WRITE_BEHIND_BACKUP_MS: Final = 100

# What a real value looks like, so that a placeholder, a publishable key pasted in the wrong
# place or a truncated secret stops production at start-up instead of at the first payment.
_STRIPE_SECRET_KEY_SHAPE: Final = re.compile(r"sk_(live|test)_[A-Za-z0-9]{16,}")
_WEBHOOK_SECRET_SHAPE: Final = re.compile(r"whsec_[A-Za-z0-9+/=_-]{16,}")
_JWT_SECRET_MIN_LENGTH: Final = 32
# A generated secret of 32 characters has far more; "x" * 40 has one.
_JWT_SECRET_MIN_DISTINCT: Final = 10


class SettingsError(ValueError):
    """A variable is missing or malformed; the message names it."""


class Environment(enum.StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class WriteBehind(enum.StrEnum):
    """Who writes the journal through to MariaDB while a shard is owned."""

    # The engine's own flusher, on the actor's event loop: a deployment of one engine process.
    INLINE = "inline"
    # The flusher process (`python -m engine flush`); the engine only backs it up.
    FLUSHER = "flusher"


class LogFormat(enum.StrEnum):
    TEXT = "text"
    JSON = "json"  # one object per line, for log shippers


class RedisMode(enum.StrEnum):
    SINGLE = "single"  # redis://, rediss://, unix://: one server
    CLUSTER = "cluster"  # redis+cluster://: a Redis Cluster, reached through its seed nodes


CLUSTER_SCHEME: Final = "redis+cluster"


@dataclass(frozen=True, slots=True)
class RedisNode:
    host: str
    port: int


@dataclass(frozen=True, slots=True, kw_only=True)
class RedisSettings:
    url: str
    mode: RedisMode = RedisMode.SINGLE
    # Cluster mode only: the nodes asked for the cluster's slot map at start-up. Any one that
    # answers is enough; the client then learns every node from it.
    seed_nodes: tuple[RedisNode, ...] = ()
    username: str | None = None
    password: str | None = None
    # Blocking reads (BLMOVE, BLPOP) must time out well inside the socket timeout, or redis-py
    # reports a healthy idle wait as a dead connection.
    socket_timeout: float = 10.0
    max_connections: int = 64

    @classmethod
    def from_url(cls, url: str, **options: Any) -> RedisSettings:
        """Settings for `url`: `redis://host:port/db` (also rediss://, unix://) for one server,
        `redis+cluster://[user:password@]host:port[,host:port...]` for a cluster."""
        scheme, sep, rest = url.partition("://")
        if scheme in ("redis", "rediss", "unix") and sep:
            return cls(url=url, **options)
        if scheme != CLUSTER_SCHEME or not sep:
            raise ValueError(
                "expected redis://host:port/db, or redis+cluster://host:port[,host:port...]"
            )
        userinfo, at, location = rest.rpartition("@")
        nodes_text, slash, db = location.partition("/")
        if slash and db not in ("", "0"):
            raise ValueError("a cluster has only database 0")
        username, colon, password = userinfo.partition(":")
        return cls(
            url=url,
            mode=RedisMode.CLUSTER,
            seed_nodes=tuple(_cluster_node(text) for text in nodes_text.split(",")),
            username=unquote(username) if at and username else None,
            password=unquote(password) if at and colon else None,
            **options,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class DatabaseSettings:
    host: str
    port: int
    user: str
    password: str
    database: str
    pool_min: int = 1
    pool_max: int = 10
    # Every connect and every query is bounded: a server that hangs without refusing (frozen,
    # partitioned) must surface as DatabaseUnavailable, not as a task that waits for ever. The
    # read timeout bounds each wait for the server's next packet, so it must exceed the longest
    # legitimate wait inside one statement: the engine's row-lock waits of FENCE_WAIT_SECONDS
    # (persistence.seat_state). Migrations, which may wait on a lock or rebuild a big table,
    # run on a connection of their own with a longer bound (persistence.migrate).
    connect_timeout_seconds: float = 5.0
    read_timeout_seconds: float = 10.0

    @classmethod
    def from_url(cls, url: str, *, pool_max: int = 10) -> DatabaseSettings:
        parts = urlsplit(url)
        if parts.scheme not in ("mysql", "mariadb"):
            raise ValueError("scheme must be mysql:// or mariadb://")
        database = parts.path.lstrip("/")
        if not parts.hostname or not database:
            raise ValueError("expected mysql://user:password@host:port/database")
        return cls(
            host=parts.hostname,
            port=parts.port or 3306,
            user=unquote(parts.username or "root"),
            password=unquote(parts.password or ""),
            database=database,
            pool_max=pool_max,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpSettings:
    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str = "http://127.0.0.1:8080"
    max_body_bytes: int = 64 * 1024
    # A connection that has not sent a whole request head this long after it opened (or after
    # its last response) is closed: the slow-loris defence, see gateway.cli._serve.
    idle_timeout_seconds: float = 15.0
    # The whole body must arrive this long after the handler starts reading it; a client that
    # trickles it would otherwise hold a handler and a connection for as long as it likes.
    body_timeout_seconds: float = 10.0
    # Seat changes for an event that arrive within this window of the last push go out together
    # in one websocket frame: under a rush, frames per socket, not bytes, cost the CPU.
    seat_push_window_ms: int = 100
    # Connections the kernel queues before the gateway accepts them. An on-sale opens thousands
    # at once; past this queue new connections are dropped and their clients retry after 1, 3,
    # 7, 15 s (TCP's back-off), which buyers see as a frozen page. Capped by net.core.somaxconn.
    listen_backlog: int = 4096


@dataclass(frozen=True, slots=True)
class Rate:
    """At most `count` requests per `seconds`-long window."""

    count: int
    seconds: int

    @classmethod
    def parse(cls, raw: str) -> Rate:
        count, slash, seconds = raw.partition("/")
        if not slash:
            raise ValueError("expected COUNT/SECONDS, e.g. 10/60")
        rate = cls(int(count), int(seconds))
        if rate.count <= 0 or rate.seconds <= 0:
            raise ValueError("both numbers must be greater than zero")
        return rate


IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True, kw_only=True)
class LimitSettings:
    """Request rate limits (gateway.limits). `enabled=False` is for the benchmark only, whose
    simulated crowd all comes from one loopback address."""

    enabled: bool = True
    login_per_ip: Rate = Rate(10, 60)
    login_per_email: Rate = Rate(5, 60)  # per email and IP together
    signup_per_ip: Rate = Rate(5, 60)
    signup_per_email: Rate = Rate(5, 60)  # per email and IP together
    holds_per_user: Rate = Rate(30, 10)
    # Seat-map connects, whatever they end in. A browser opens one per map it shows and
    # reconnects with back-off (0.5 s doubling to 10 s) only after a drop or a gap, so a minute
    # of 60 leaves room for a busy page or a few people behind one address.
    seat_map_per_ip: Rate = Rate(60, 60)
    websockets_per_ip: int = 20
    # Queue joins per client IP. A join is answered from the engine once per account and then
    # repeated, so this is generous: a rush is many addresses, and a few buyers may share one.
    queue_join_per_ip: Rate = Rate(30, 60)
    # Queue-screen websocket connects, counted like the seat map's.
    queue_socket_per_ip: Rate = Rate(60, 60)
    # The reverse proxies whose X-Forwarded-For is believed (gateway.limits.client_ip); empty:
    # the peer address is the client, whatever headers say.
    trusted_proxies: tuple[IpNetwork, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineSettings:
    shards: int = 64
    batch_size: int = 256
    hold_ttl_seconds: float = 600.0
    lease_ttl_ms: int = 3000
    decision_timeout_seconds: float = 5.0
    sweep_interval_seconds: float = 5.0
    # A hold is left to its own actor for this long past expiry before the sweeper nudges it.
    sweep_grace_seconds: float = 2.0
    flush_batch: int = 500
    write_behind: WriteBehind = WriteBehind.FLUSHER
    # With the flusher process: an entry it has left this long is written by the engine itself,
    # so a dead flusher process never lets MariaDB fall behind by more.
    write_behind_backup_ms: int = 1000
    # Replicas of the shard's Redis master that must hold a turn's writes before its replies go
    # out (`WAIT`, once per turn, engine.queue); 0 sends no WAIT. A turn whose WAIT counts
    # fewer within `replica_wait_ms` answers nobody and ends its actor (engine.actor).
    min_replicas: int = 0
    replica_wait_ms: int = 1000


@dataclass(frozen=True, slots=True, kw_only=True)
class TelemetrySettings:
    # The loopback port this process serves /metrics on; 0 serves none. Every process of a
    # machine needs its own (the Procfile passes the supervisor's per-process $PORT).
    metrics_port: int = 0
    log_format: LogFormat = LogFormat.TEXT
    # Off by default: a line per request, piped through a supervisor, halved throughput (#12).
    access_log: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class StripeSettings:
    secret_key: str | None = None
    webhook_secret: str = DEV_WEBHOOK_SECRET
    api_base: str | None = None

    @property
    def local_checkout(self) -> bool:
        return self.secret_key is None


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    environment: Environment
    redis: RedisSettings
    database: DatabaseSettings
    http: HttpSettings
    engine: EngineSettings
    stripe: StripeSettings
    jwt_secret: str
    limits: LimitSettings = LimitSettings()
    telemetry: TelemetrySettings = TelemetrySettings()
    jwt_ttl_seconds: int = 3600
    # The longest a gateway trusts its last "is this user deleted?" answer; a revocation notice
    # ends it sooner (gateway.auth.revocation).
    revocation_cache_ms: int = 60_000
    argon2_profile: str = "rfc9106-low-memory"
    log_level: str = "INFO"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        return _Reader(os.environ if env is None else env).settings()


class _Reader:
    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env

    def _get(self, name: str, default: T, parse: Callable[[str], T]) -> T:
        raw = self._env.get(name)
        if raw is None or raw == "":
            return default
        try:
            return parse(raw)
        except ValueError as exc:
            raise SettingsError(f"{name}={raw!r} is invalid: {exc}") from None

    def _positive_int(self, name: str, default: int) -> int:
        return self._get(name, default, _positive(int))

    def _positive_float(self, name: str, default: float) -> float:
        return self._get(name, default, _positive(float))

    def settings(self) -> Settings:
        environment = self._get("RUSHQUEUE_ENV", Environment.DEVELOPMENT, Environment)
        jwt_secret = self._get("JWT_SECRET", DEV_JWT_SECRET, str)
        if len(jwt_secret) < _JWT_SECRET_MIN_LENGTH:
            raise SettingsError("JWT_SECRET is invalid: use at least 32 characters")
        stripe_key = self._get("STRIPE_SECRET_KEY", None, _nonempty)
        redis = self._get(
            "REDIS_URL", RedisSettings.from_url("redis://127.0.0.1:6379/0"), RedisSettings.from_url
        )
        db_pool_max = self._positive_int("DATABASE_POOL_MAX", 10)
        database = self._get(
            "DATABASE_URL",
            DatabaseSettings.from_url(DEV_DATABASE_URL, pool_max=db_pool_max),
            lambda raw: DatabaseSettings.from_url(raw, pool_max=db_pool_max),
        )
        database = replace(
            database,
            connect_timeout_seconds=self._positive_float("DATABASE_CONNECT_TIMEOUT_SECONDS", 5.0),
            read_timeout_seconds=self._get(
                "DATABASE_READ_TIMEOUT_SECONDS", 10.0, _at_least_seconds(_MIN_DB_READ_TIMEOUT)
            ),
        )
        port = self._get("HTTP_PORT", 8080, _port)
        http = HttpSettings(
            host=self._get("HTTP_HOST", "127.0.0.1", _nonempty),
            port=port,
            public_url=self._get("PUBLIC_URL", f"http://127.0.0.1:{port}", _http_url),
            max_body_bytes=self._positive_int("HTTP_MAX_BODY_BYTES", 64 * 1024),
            idle_timeout_seconds=self._positive_float("HTTP_IDLE_TIMEOUT_SECONDS", 15.0),
            body_timeout_seconds=self._positive_float("HTTP_BODY_TIMEOUT_SECONDS", 10.0),
            seat_push_window_ms=self._get("SEAT_PUSH_WINDOW_MS", 100, _at_least(int, 0)),
            listen_backlog=self._positive_int("HTTP_LISTEN_BACKLOG", 4096),
        )
        defaults = LimitSettings()
        limits = LimitSettings(
            enabled=self._get("RATE_LIMITS", "on", _one_of("on", "off")) == "on",
            login_per_ip=self._get("RATE_LIMIT_LOGIN_PER_IP", defaults.login_per_ip, Rate.parse),
            login_per_email=self._get(
                "RATE_LIMIT_LOGIN_PER_EMAIL", defaults.login_per_email, Rate.parse
            ),
            signup_per_ip=self._get("RATE_LIMIT_SIGNUP_PER_IP", defaults.signup_per_ip, Rate.parse),
            signup_per_email=self._get(
                "RATE_LIMIT_SIGNUP_PER_EMAIL", defaults.signup_per_email, Rate.parse
            ),
            holds_per_user=self._get(
                "RATE_LIMIT_HOLDS_PER_USER", defaults.holds_per_user, Rate.parse
            ),
            seat_map_per_ip=self._get(
                "RATE_LIMIT_SEAT_MAP_PER_IP", defaults.seat_map_per_ip, Rate.parse
            ),
            websockets_per_ip=self._positive_int("WS_MAX_PER_IP", defaults.websockets_per_ip),
            queue_join_per_ip=self._get(
                "RATE_LIMIT_QUEUE_JOIN_PER_IP", defaults.queue_join_per_ip, Rate.parse
            ),
            queue_socket_per_ip=self._get(
                "RATE_LIMIT_QUEUE_SOCKET_PER_IP", defaults.queue_socket_per_ip, Rate.parse
            ),
            trusted_proxies=self._get("TRUSTED_PROXIES", (), _networks),
        )
        engine = EngineSettings(
            shards=self._positive_int("ENGINE_SHARDS", 64),
            batch_size=self._positive_int("ENGINE_BATCH_SIZE", 256),
            hold_ttl_seconds=self._positive_float("HOLD_TTL_SECONDS", 600.0),
            lease_ttl_ms=self._get("ENGINE_LEASE_TTL_MS", 3000, _at_least(int, 500)),
            decision_timeout_seconds=self._positive_float("ENGINE_DECISION_TIMEOUT_SECONDS", 5.0),
            sweep_interval_seconds=self._positive_float("SWEEP_INTERVAL_SECONDS", 5.0),
            sweep_grace_seconds=self._positive_float("SWEEP_GRACE_SECONDS", 2.0),
            flush_batch=self._positive_int("ENGINE_FLUSH_BATCH", 500),
            write_behind=self._get(
                "WRITE_BEHIND",
                WriteBehind.FLUSHER,
                lambda raw: WriteBehind(_one_of(*WriteBehind)(raw)),
            ),
            write_behind_backup_ms=self._get(
                "WRITE_BEHIND_BACKUP_MS", 1000, _at_least(int, _MIN_WRITE_BEHIND_BACKUP_MS)
            ),
            min_replicas=self._get("REDIS_MIN_REPLICAS", 0, _at_least(int, 0)),
            replica_wait_ms=self._positive_int("REDIS_REPLICA_WAIT_MS", 1000),
        )
        stripe = StripeSettings(
            secret_key=stripe_key,
            webhook_secret=self._get("STRIPE_WEBHOOK_SECRET", DEV_WEBHOOK_SECRET, _nonempty),
            api_base=self._get("STRIPE_API_BASE", None, _http_url),
        )
        telemetry = TelemetrySettings(
            metrics_port=self._get("METRICS_PORT", 0, _port_or_off),
            log_format=self._get("LOG_FORMAT", LogFormat.TEXT, LogFormat),
            access_log=self._get("ACCESS_LOG", "off", _one_of("on", "off")) == "on",
        )
        settings = Settings(
            environment=environment,
            redis=replace(
                redis,
                max_connections=self._positive_int("REDIS_MAX_CONNECTIONS", 64),
            ),
            database=database,
            http=http,
            engine=engine,
            stripe=stripe,
            jwt_secret=jwt_secret,
            limits=limits,
            telemetry=telemetry,
            jwt_ttl_seconds=self._positive_int("JWT_TTL_SECONDS", 3600),
            revocation_cache_ms=self._get("AUTH_REVOCATION_CACHE_MS", 60_000, _at_least(int, 0)),
            argon2_profile=self._get(
                "ARGON2_PROFILE", "rfc9106-low-memory", _one_of("rfc9106-low-memory", "cheapest")
            ),
            log_level=self._get("LOG_LEVEL", "INFO", _one_of("DEBUG", "INFO", "WARNING", "ERROR")),
        )
        if environment is Environment.PRODUCTION:
            _refuse_development_secrets(settings)
        return settings


def _refuse_development_secrets(settings: Settings) -> None:
    """Production runs only with secrets of its own. The values checked are the ones the process
    would use, so a variable that is set but blank (which falls back to the development default,
    printed in this file) is refused like a missing one. Messages never repeat a secret."""
    jwt_secret = settings.jwt_secret
    if jwt_secret == DEV_JWT_SECRET or len(set(jwt_secret)) < _JWT_SECRET_MIN_DISTINCT:
        raise SettingsError(
            "JWT_SECRET must be set in production to a generated secret of at least "
            f"{_JWT_SECRET_MIN_LENGTH} characters (e.g. `openssl rand -base64 48`)"
        )
    stripe_key = settings.stripe.secret_key
    if stripe_key is None:
        raise SettingsError(
            "STRIPE_SECRET_KEY must be set in production (the local checkout is dev-only)"
        )
    if not _STRIPE_SECRET_KEY_SHAPE.fullmatch(stripe_key):
        raise SettingsError(
            "STRIPE_SECRET_KEY is not a Stripe secret key: expected sk_live_… or sk_test_…"
        )
    webhook_secret = settings.stripe.webhook_secret
    if webhook_secret == DEV_WEBHOOK_SECRET or not _WEBHOOK_SECRET_SHAPE.fullmatch(webhook_secret):
        raise SettingsError(
            "STRIPE_WEBHOOK_SECRET must be set in production to the signing secret (whsec_…) "
            "of your Stripe webhook endpoint"
        )
    development = DatabaseSettings.from_url(DEV_DATABASE_URL)
    if settings.database.password in ("", development.password):
        raise SettingsError("DATABASE_URL must be set in production with a password of its own")


def _positive(kind: Callable[[str], T]) -> Callable[[str], T]:
    def parse(raw: str) -> T:
        value = kind(raw)
        if not value > 0:  # type: ignore[operator]
            raise ValueError("must be greater than zero")
        return value

    return parse


def _at_least(kind: Callable[[str], int], minimum: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        value = kind(raw)
        if value < minimum:
            raise ValueError(f"must be at least {minimum}")
        return value

    return parse


def _at_least_seconds(minimum: float) -> Callable[[str], float]:
    def parse(raw: str) -> float:
        value = float(raw)
        if not value >= minimum:  # NaN too
            raise ValueError(f"must be at least {minimum:g} seconds")
        return value

    return parse


def _port(raw: str) -> int:
    value = int(raw)
    if not 0 < value < 65536:
        raise ValueError("must be a TCP port (1-65535)")
    return value


def _port_or_off(raw: str) -> int:
    value = int(raw)
    if not 0 <= value < 65536:
        raise ValueError("must be a TCP port (1-65535), or 0 for none")
    return value


def _nonempty(raw: str) -> str:
    if not raw.strip():
        raise ValueError("must not be blank")
    return raw


def _cluster_node(text: str) -> RedisNode:
    host, colon, port = text.strip().rpartition(":")
    host = host.removeprefix("[").removesuffix("]")  # [::1]:7000
    if not colon or not host or not port.isdigit():
        raise ValueError(f"{text!r} is not host:port")
    return RedisNode(host, _port(port))


def _http_url(raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("expected an http(s):// URL")
    return raw.rstrip("/")


def _networks(raw: str) -> tuple[IpNetwork, ...]:
    """Comma-separated addresses or CIDR networks; an address is a network of one."""
    networks = []
    for item in raw.split(","):
        text = item.strip()
        if not text:
            raise ValueError("expected comma-separated IP addresses or networks, e.g. 10.0.0.0/8")
        try:
            # strict: 10.0.0.1/8 is a typo for an address or a network, not a guess to make.
            networks.append(ipaddress.ip_network(text, strict=True))
        except ValueError as exc:
            raise ValueError(f"{text!r} is not an IP address or network ({exc})") from None
    return tuple(networks)


def _one_of(*choices: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if raw not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}")
        return raw

    return parse
