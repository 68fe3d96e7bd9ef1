"""bench.screenshot: a PNG of an event's live seat map."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bench.screenshot import capture_seat_map

if TYPE_CHECKING:
    from pathlib import Path

    from tests.browser.conftest import OpenStack

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


async def test_the_seat_map_is_saved_as_a_png(open_stack: OpenStack, tmp_path: Path) -> None:
    stack = await open_stack()
    made = await stack.event(seats=20)
    out = tmp_path / "docs" / "map.png"

    await capture_seat_map(stack.base_url, made.event_id, out, width=640, height=480)

    picture = out.read_bytes()
    assert picture.startswith(PNG_SIGNATURE)
    width, height = int.from_bytes(picture[16:20], "big"), int.from_bytes(picture[20:24], "big")
    assert (width, height) == (640, 480)


async def test_a_section_is_pictured_up_close(open_stack: OpenStack, tmp_path: Path) -> None:
    stack = await open_stack()
    made = await stack.event(seats=20)
    out = tmp_path / "section.png"

    await capture_seat_map(
        stack.base_url, made.event_id, out, width=375, height=600, section="Main"
    )

    assert out.read_bytes().startswith(PNG_SIGNATURE)
