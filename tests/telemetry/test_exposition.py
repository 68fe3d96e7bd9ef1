"""Each process's /metrics server: its own registry's metrics in Prometheus' text format, on
loopback only, started and stopped with the process."""

from __future__ import annotations

import socket

import aiohttp
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from devstack.servers import LOOPBACK, free_port
from telemetry.exposition import new_registry, serving_metrics


def listening(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, port)) == 0


def local_address_other_than_loopback() -> str | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(("192.0.2.1", 9))  # TEST-NET: no packet is sent by a UDP connect
        except OSError:
            return None
        address: str = sock.getsockname()[0]
    return None if address.startswith("127.") else address


async def test_serves_its_registry_on_loopback_and_stops_with_the_block() -> None:
    registry = CollectorRegistry()
    Counter("rushqueue_test_things", "Things counted by the test.", registry=registry).inc(3)
    port = free_port()
    async with serving_metrics(registry, port), aiohttp.ClientSession() as session:
        async with session.get(f"http://{LOOPBACK}:{port}/metrics") as response:
            assert response.status == 200
            assert response.headers["Content-Type"] == CONTENT_TYPE_LATEST
            text = await response.text()
        if (other := local_address_other_than_loopback()) is not None:
            assert not listening(other, port), "metrics are served on loopback only"
    assert "rushqueue_test_things_total 3.0" in text
    assert not listening(LOOPBACK, port), "stopped at the end of the block"


async def test_port_zero_serves_nothing() -> None:
    async with serving_metrics(CollectorRegistry(), 0) as served:
        assert served is None


async def test_a_process_registry_describes_the_process_itself() -> None:
    registry = new_registry()
    names = {metric.name for metric in registry.collect()}
    assert {"process_resident_memory_bytes", "process_cpu_seconds", "python_info"} <= names
    assert registry is not new_registry(), "one registry per process, never a shared global"
