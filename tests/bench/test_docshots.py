"""bench.docshots at its quick size, as a user runs it: it must exit 0 and leave the five
pictures the README shows, each a PNG of its viewport's size."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import pytest

from tests.helpers.commands import run_module

if TYPE_CHECKING:
    from pathlib import Path

RUN_WITHIN: Final = 180.0
PNG_SIGNATURE: Final = b"\x89PNG\r\n\x1a\n"
PICTURES: Final = {
    "seatmap-overview.png": (1280, 860),
    "seatmap-section.png": (1280, 860),
    "hold-panel.png": (375, 812),
    "order-review.png": (1280, 680),
    "waiting-room.png": (900, 600),
}


@pytest.mark.long
@pytest.mark.timeout(240)
def test_the_readme_pictures_are_taken(tmp_path: Path) -> None:
    run_module("bench.docshots", "--quick", "--out", str(tmp_path), within=RUN_WITHIN)

    sizes = {}
    for path in sorted(tmp_path.iterdir()):
        picture = path.read_bytes()
        assert picture.startswith(PNG_SIGNATURE), path
        sizes[path.name] = (
            int.from_bytes(picture[16:20], "big"),
            int.from_bytes(picture[20:24], "big"),
        )
    assert sizes == PICTURES
