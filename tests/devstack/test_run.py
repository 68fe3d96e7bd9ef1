"""`make run`'s supervisor: its configuration and its refusal of a taken port."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from config import Settings, SettingsError
from devstack.run import (
    DevPorts,
    child_environment,
    default_web_processes,
    honcho_command,
    process_counts,
    taken_port,
)
from devstack.servers import LOOPBACK, free_port


def test_dev_ports_default_to_the_documented_ones() -> None:
    assert DevPorts.from_env({}) == DevPorts(redis=6390, database=3390)
    assert DevPorts.from_env(
        {"RUSHQUEUE_DEV_REDIS_PORT": "7001", "RUSHQUEUE_DEV_DB_PORT": "7002"}
    ) == DevPorts(redis=7001, database=7002)


@pytest.mark.parametrize("raw", ["redis", "0", "70000", "-1"])
def test_a_bad_dev_port_names_its_variable(raw: str) -> None:
    with pytest.raises(SettingsError, match="RUSHQUEUE_DEV_DB_PORT"):
        DevPorts.from_env({"RUSHQUEUE_DEV_DB_PORT": raw})


def test_a_taken_port_is_reported_in_one_line_naming_its_variable() -> None:
    port = free_port()
    with socket.socket() as squatter:
        squatter.bind((LOOPBACK, port))
        squatter.listen()
        problem = taken_port({"HTTP_PORT": free_port(), "RUSHQUEUE_DEV_REDIS_PORT": port})

    assert problem is not None
    assert "\n" not in problem
    assert f"port {port} (RUSHQUEUE_DEV_REDIS_PORT)" in problem
    assert taken_port({"RUSHQUEUE_DEV_REDIS_PORT": port}) is None


def test_children_get_the_private_servers_on_loopback_and_the_venv_python_first() -> None:
    env = child_environment(
        {"PATH": "/usr/bin", "HTTP_HOST": "0.0.0.0", "LOG_LEVEL": "DEBUG"},  # noqa: S104
        redis_url="redis://127.0.0.1:6390/0",
        database_url="mysql://rushqueue:rushqueue@127.0.0.1:3390/rushqueue",
        venv_bin=Path("/repo/.venv/bin"),
    )

    assert env["PATH"] == "/repo/.venv/bin:/usr/bin"
    assert env["LOG_LEVEL"] == "DEBUG"
    settings = Settings.from_env(env)
    assert settings.environment == "development"
    assert settings.redis.url == "redis://127.0.0.1:6390/0"
    assert (settings.database.host, settings.database.port) == ("127.0.0.1", 3390)
    assert (settings.http.host, settings.http.port) == ("127.0.0.1", 8080)


def test_make_run_starts_one_gateway_per_two_cores_unless_told() -> None:
    assert default_web_processes(1) == 1
    assert default_web_processes(2) == 1
    assert default_web_processes(8) == 4
    assert process_counts({"WEB_PROCESSES": "3"}) == {"web": 3}
    assert process_counts({})["web"] >= 1


@pytest.mark.parametrize("raw", ["two", "0", "-1", "101"])
def test_a_bad_gateway_count_names_its_variable(raw: str) -> None:
    with pytest.raises(SettingsError, match="WEB_PROCESSES"):
        process_counts({"WEB_PROCESSES": raw})


def test_honcho_is_told_the_first_metrics_port_and_how_many_of_each() -> None:
    argv = honcho_command(9100, {"web": 2})

    assert argv[1:4] == ["-m", "honcho", "start"]
    assert argv[argv.index("-p") + 1] == "9100"
    assert argv[argv.index("-c") + 1] == "web=2"
