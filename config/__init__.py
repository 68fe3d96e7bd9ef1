"""Typed settings, read once from the environment and passed explicitly."""

from config.settings import (
    DatabaseSettings,
    EngineSettings,
    Environment,
    HttpSettings,
    RedisMode,
    RedisNode,
    RedisSettings,
    Settings,
    SettingsError,
    StripeSettings,
    WriteBehind,
)

__all__ = [
    "DatabaseSettings",
    "EngineSettings",
    "Environment",
    "HttpSettings",
    "RedisMode",
    "RedisNode",
    "RedisSettings",
    "Settings",
    "SettingsError",
    "StripeSettings",
    "WriteBehind",
]
