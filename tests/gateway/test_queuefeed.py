"""The queue feed's frames are the bytes aiohttp's own websocket writer would send."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import WSMsgType
from aiohttp.base_protocol import BaseProtocol
from aiohttp.http_websocket import WebSocketWriter

from gateway.queuefeed import text_frame


class _Captured(asyncio.Transport):
    """A transport that keeps what is written to it."""

    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += data

    def is_closing(self) -> bool:
        return False


@pytest.mark.parametrize("size", [0, 5, 125, 126, 65_535, 65_536, 70_000])
async def test_a_room_frame_is_what_aiohttp_would_send(size: int) -> None:
    payload = b"x" * size
    transport = _Captured()
    writer = WebSocketWriter(BaseProtocol(asyncio.get_running_loop()), transport)
    await writer.send_frame(payload, WSMsgType.TEXT)
    assert text_frame(payload) == bytes(transport.written)
