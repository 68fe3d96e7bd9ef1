"""The private servers `make run` and the suite start: real binaries, no stand-ins."""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

import pytest
from redis import Redis

from devstack.servers import LOOPBACK, MariaDBServer, RedisServer, ServerError, free_port

if TYPE_CHECKING:
    from pathlib import Path


@pytest.mark.parametrize("ending", ["stop", "kill"])
def test_redis_keeps_an_acknowledged_write_across_a_restart(tmp_path: Path, ending: str) -> None:
    # "kill" is SIGKILL: no shutdown hook runs, so only the fsynced AOF can bring the key back.
    data_dir = tmp_path / "redis"
    first = RedisServer(data_dir).start()
    try:
        with Redis.from_url(first.url) as client:
            assert client.set("rushqueue:test:durable", "kept")
    finally:
        getattr(first, ending)()

    second = RedisServer(data_dir, first.port).start()
    try:
        with Redis.from_url(second.url) as client:
            assert client.get("rushqueue:test:durable") == b"kept"
    finally:
        second.stop()


def test_mariadb_refuses_a_taken_port_before_touching_its_data_dir(tmp_path: Path) -> None:
    port = free_port()
    with socket.socket() as squatter:
        squatter.bind((LOOPBACK, port))
        squatter.listen()
        server = MariaDBServer(tmp_path / "mariadb", port)

        with pytest.raises(ServerError, match=f"port {port} is taken"):
            server.start()

    assert not (tmp_path / "mariadb" / "db").exists()
