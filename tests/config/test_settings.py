"""Settings from the environment: sensible local defaults, and a bad value stops start-up with
one line naming the variable."""

from __future__ import annotations

import pytest

from config import Environment, RedisMode, RedisNode, Settings, SettingsError
from config.settings import DEV_JWT_SECRET, DEV_WEBHOOK_SECRET

# Shaped like real ones; made up for these tests.
PRODUCTION_SECRETS = {
    "RUSHQUEUE_ENV": "production",
    "JWT_SECRET": "Zq7rT2xW9vLm4Kp8Hs3Nd6Fb1Gc5Jy0AeUo",
    "STRIPE_SECRET_KEY": "sk_live_51HxExampleKey0123456789abcdef",
    "STRIPE_WEBHOOK_SECRET": "whsec_3f9aExampleSigningSecret0123456789",
    "DATABASE_URL": "mysql://rushqueue:Wq8vExampleDbPassword@db.internal:3306/rushqueue",
}


def refusal(env: dict[str, str]) -> str:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(env)
    return str(caught.value)


def test_an_empty_environment_is_a_local_development_setup_on_loopback() -> None:
    settings = Settings.from_env({})
    assert settings.environment is Environment.DEVELOPMENT
    assert settings.http.host == "127.0.0.1"
    assert settings.jwt_secret == DEV_JWT_SECRET
    assert settings.stripe.local_checkout
    assert (settings.http.seat_push_window_ms, settings.http.listen_backlog) == (100, 4096)
    assert settings.revocation_cache_ms == 60_000


def test_variables_override_the_defaults() -> None:
    settings = Settings.from_env(
        {
            "HTTP_PORT": "9000",
            "ENGINE_SHARDS": "8",
            "HOLD_TTL_SECONDS": "90.5",
            "SEAT_PUSH_WINDOW_MS": "0",
            "HTTP_LISTEN_BACKLOG": "512",
            "AUTH_REVOCATION_CACHE_MS": "0",
            "RATE_LIMIT_HOLDS_PER_USER": "3/1",
        }
    )
    assert settings.http.port == 9000
    assert settings.http.public_url == "http://127.0.0.1:9000"
    assert (settings.engine.shards, settings.engine.hold_ttl_seconds) == (8, 90.5)
    assert (settings.http.seat_push_window_ms, settings.http.listen_backlog) == (0, 512)
    assert settings.revocation_cache_ms == 0
    assert (settings.limits.holds_per_user.count, settings.limits.holds_per_user.seconds) == (3, 1)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("HTTP_PORT", "70000"),
        ("HTTP_PORT", "eighty"),
        ("ENGINE_SHARDS", "0"),
        ("HOLD_TTL_SECONDS", "-1"),
        ("SEAT_PUSH_WINDOW_MS", "-5"),
        ("HTTP_LISTEN_BACKLOG", "0"),
        ("AUTH_REVOCATION_CACHE_MS", "soon"),
        ("RATE_LIMIT_HOLDS_PER_USER", "30"),
        ("REDIS_URL", "http://127.0.0.1:6379"),
        ("REDIS_URL", "redis+cluster://"),
        ("REDIS_URL", "redis+cluster://10.0.0.1"),
        ("REDIS_URL", "redis+cluster://10.0.0.1:7000,"),
        ("REDIS_URL", "redis+cluster://10.0.0.1:99999"),
        ("REDIS_URL", "redis+cluster://10.0.0.1:7000/2"),
        ("REDIS_MIN_REPLICAS", "-1"),
        ("DATABASE_URL", "postgres://u:p@127.0.0.1/db"),
        ("RATE_LIMITS", "maybe"),
        ("WRITE_BEHIND", "sometimes"),
        ("WRITE_BEHIND_BACKUP_MS", "50"),
    ],
)
def test_a_malformed_value_is_refused_naming_its_variable(name: str, value: str) -> None:
    message = refusal({name: value})
    assert message.startswith(f"{name}={value!r} is invalid"), message
    assert "\n" not in message


def test_a_short_jwt_secret_is_refused() -> None:
    assert "JWT_SECRET" in refusal({"JWT_SECRET": "short"})


@pytest.mark.parametrize(
    "missing", ["JWT_SECRET", "STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET", "DATABASE_URL"]
)
def test_production_refuses_to_start_with_a_development_default(missing: str) -> None:
    env = {name: value for name, value in PRODUCTION_SECRETS.items() if name != missing}
    assert missing in refusal(env)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        # Set but empty, as a template or an unfilled secret store leaves it: the value that would
        # be used is the development default, printed in the public source.
        ("STRIPE_WEBHOOK_SECRET", ""),
        ("STRIPE_WEBHOOK_SECRET", "   "),
        ("STRIPE_WEBHOOK_SECRET", DEV_WEBHOOK_SECRET),
        ("STRIPE_WEBHOOK_SECRET", "my-webhook-secret"),
        ("STRIPE_WEBHOOK_SECRET", "whsec_"),
        ("STRIPE_WEBHOOK_SECRET", "whsec_short"),
        ("JWT_SECRET", ""),
        ("JWT_SECRET", DEV_JWT_SECRET),
        ("JWT_SECRET", "x" * 48),
        ("STRIPE_SECRET_KEY", ""),
        ("STRIPE_SECRET_KEY", "   "),
        ("STRIPE_SECRET_KEY", "pk_live_51HxExampleKey0123456789abcdef"),
        ("STRIPE_SECRET_KEY", "sk_live_"),
        ("STRIPE_SECRET_KEY", "sk_live_ 51HxExampleKey0123456789"),
        ("DATABASE_URL", ""),
        ("DATABASE_URL", "mysql://rushqueue:rushqueue@db.internal:3306/rushqueue"),
        ("DATABASE_URL", "mysql://rushqueue@db.internal:3306/rushqueue"),
    ],
)
def test_production_refuses_a_secret_that_is_blank_a_default_or_not_shaped_like_one(
    name: str, value: str
) -> None:
    message = refusal({**PRODUCTION_SECRETS, name: value})
    assert message.startswith(name), message
    assert "\n" not in message
    if len(value.strip()) > len("sk_live_"):
        assert value not in message, "a refusal must not print the secret"


def test_production_accepts_stripe_test_mode_keys() -> None:
    settings = Settings.from_env(
        {**PRODUCTION_SECRETS, "STRIPE_SECRET_KEY": "sk_test_51HxExampleKey0123456789abcdef"}
    )
    assert settings.stripe.secret_key == "sk_test_51HxExampleKey0123456789abcdef"


def test_development_keeps_its_defaults_for_blank_secrets() -> None:
    settings = Settings.from_env({"STRIPE_WEBHOOK_SECRET": "", "JWT_SECRET": ""})
    assert settings.stripe.webhook_secret == DEV_WEBHOOK_SECRET
    assert settings.jwt_secret == DEV_JWT_SECRET


def test_production_starts_with_its_secrets_set() -> None:
    settings = Settings.from_env(PRODUCTION_SECRETS)
    assert settings.environment is Environment.PRODUCTION
    assert not settings.stripe.local_checkout


def test_database_timeouts_have_defaults_and_a_floor_above_the_engines_lock_waits() -> None:
    defaults = Settings.from_env({}).database
    assert (defaults.connect_timeout_seconds, defaults.read_timeout_seconds) == (5.0, 10.0)
    tuned = Settings.from_env(
        {"DATABASE_CONNECT_TIMEOUT_SECONDS": "1.5", "DATABASE_READ_TIMEOUT_SECONDS": "4"}
    ).database
    assert (tuned.connect_timeout_seconds, tuned.read_timeout_seconds) == (1.5, 4.0)
    for name, value in [
        ("DATABASE_CONNECT_TIMEOUT_SECONDS", "0"),
        ("DATABASE_READ_TIMEOUT_SECONDS", "2"),
        ("DATABASE_READ_TIMEOUT_SECONDS", "nan"),
    ]:
        assert refusal({name: value}).startswith(f"{name}={value!r} is invalid")


def test_one_redis_server_is_the_default_mode() -> None:
    redis = Settings.from_env({"REDIS_URL": "redis://10.0.0.1:6380/2"}).redis
    assert (redis.mode, redis.url, redis.seed_nodes) == (
        RedisMode.SINGLE,
        "redis://10.0.0.1:6380/2",
        (),
    )


def test_a_cluster_url_names_its_seed_nodes_and_credentials() -> None:
    settings = Settings.from_env(
        {
            "REDIS_URL": "redis+cluster://app:s%40cret@10.0.0.1:7000,10.0.0.2:7001,[::1]:7002",
            "REDIS_MIN_REPLICAS": "1",
        }
    )
    assert settings.redis.mode is RedisMode.CLUSTER
    assert settings.redis.seed_nodes == (
        RedisNode("10.0.0.1", 7000),
        RedisNode("10.0.0.2", 7001),
        RedisNode("::1", 7002),
    )
    assert (settings.redis.username, settings.redis.password) == ("app", "s@cret")
    assert (settings.engine.min_replicas, settings.engine.replica_wait_ms) == (1, 1000)


def test_no_replica_is_waited_for_by_default() -> None:
    assert Settings.from_env({}).engine.min_replicas == 0
