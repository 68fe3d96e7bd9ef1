"""A picture of an event's live seat map, as a buyer's browser draws it (for docs and reports).

Headless Debian Chromium, driven by Playwright, opens the buyer's page on the event and saves a
PNG once the map is drawn and its live feed has sent the current statuses, scrolled so the map
fills the picture; with `--section` it first zooms into that section, as a buyer's click does.
The rush calls `capture_seat_map` while buyers are holding seats; it also runs on its own
against any stack:

    python -m bench.screenshot --url http://127.0.0.1:8080 --event 1 \
        --out docs/seatmap-under-load.png
    python -m bench.screenshot --url http://127.0.0.1:8080 --event 2 --section 104 \
        --out docs/seatmap-section.png
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Final

from playwright.async_api import async_playwright

CHROMIUM: Final = "/usr/bin/chromium"  # Debian's; devstack/ensure-system-packages.sh installs it
# A big venue takes a moment to draw; the feed's first snapshot follows the drawing.
READY_TIMEOUT_MS: Final = 30_000


async def capture_seat_map(
    base_url: str,
    event_id: int,
    path: Path,
    *,
    width: int = 1280,
    height: int = 900,
    section: str | None = None,
) -> None:
    """Save a PNG of event `event_id`'s seat map at `base_url` (the gateway's address) to `path`:
    `width` x `height` of the page from the map's top, once the map is drawn and live, zoomed
    into `section` if one is named."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            page = await browser.new_page(viewport={"width": width, "height": height})
            await page.goto(f"{base_url.rstrip('/')}/#/events/{event_id}")
            await page.locator('.connection[data-state="live"]').wait_for(timeout=READY_TIMEOUT_MS)
            await page.locator(".seat-map[data-drawn]").wait_for(state="attached")
            if section is not None:
                await page.locator(f'.section-choice[data-section="{section}"]').click()
            # The picture is of the map, not of the header above it.
            await page.locator(".seat-map").evaluate("(map) => map.scrollIntoView()")
            # Drawn on the next animation frame: wait for one to pass.
            await page.evaluate("new Promise((done) => requestAnimationFrame(() => done()))")
            path.parent.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(path))
        finally:
            await browser.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.screenshot")
    parser.add_argument("--url", required=True, help="the gateway, e.g. http://127.0.0.1:8080")
    parser.add_argument("--event", type=int, required=True, help="the event's id")
    parser.add_argument("--out", type=Path, default=Path("docs/seatmap-under-load.png"))
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=900)
    parser.add_argument("--section", help="zoom into this section first, e.g. 104")
    args = parser.parse_args(argv)
    asyncio.run(
        capture_seat_map(
            args.url,
            args.event,
            args.out,
            width=args.width,
            height=args.height,
            section=args.section,
        )
    )
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
