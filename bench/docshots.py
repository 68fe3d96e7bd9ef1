"""The README's pictures of the buyer's page, retaken by one command.

Starts the whole stack on loopback as the rush does (private Redis and MariaDB, the Procfile's
processes as children, the local checkout), creates the 20,000-seat arena of devstack/layouts/
with its event on sale now, has a crowd of buyers hold about a third of its seats, most of them
near the stage (bench.docscene), saves five PNGs to `--out`, and stops everything:

    python -m bench.docshots [--out docs/] [--quick]

- seatmap-overview.png: the whole arena, as anyone opening the event sees it;
- seatmap-section.png: zoomed into section 105;
- hold-panel.png: a phone (375 px) of a buyer holding 3 seats in section 105, the sticky panel
  listing them with the pay-by countdown;
- order-review.png: the order review of that hold, on a desktop;
- waiting-room.png: the queue screen, once the event's waiting room is on and the crowd queues.

`--quick` pictures the 196-seat demo hall instead (a smoke test of the tool, not for the docs).
The browsers are in the event's time zone, as a buyer near the venue is.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys
import tempfile
from collections.abc import Awaitable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import aiohttp
from playwright.async_api import Browser, Page, ViewportSize, async_playwright

from bench.docscene import ARENA, HALL, PicturedEvent, Scene, create_pictured_event, crowd_holds
from bench.screenshot import CHROMIUM, READY_TIMEOUT_MS, capture_seat_map
from bench.stack import (
    Children,
    Servers,
    create_buyers,
    interruptible,
    private_servers,
    procfile,
    settings_for,
    stack_environment,
    wait_for_owners,
    wait_until_ready,
)
from domain.statuses import Role
from gateway.auth.tokens import TokenCodec
from persistence import Database
from persistence.migrate import migrate
from persistence.users import create_user

IN_FLIGHT: Final = 32  # requests at once: the machine is shared
TOKEN_TTL_S: Final = 3600
DESKTOP: Final = ViewportSize(width=1280, height=860)
PHONE: Final = ViewportSize(width=375, height=812)
REVIEW: Final = ViewportSize(width=1280, height=680)  # the review is short: no empty half
QUEUE: Final = ViewportSize(width=900, height=600)
# The queue lets the whole crowd in over about ADMITTING_S seconds (on the arena 20 a second),
# with no cap on who is inside: the photographed buyer, last in line, sees a wait of minutes,
# and her bar has moved PROGRESS_SHOWN percent of the way to her turn some 10 s later.
ADMITTING_S: Final = 100
PROGRESS_SHOWN: Final = 10
# No password hashes to this: the organizer never logs in, its token is minted.
NOT_A_HASH: Final = "-"


@dataclasses.dataclass(frozen=True, slots=True)
class Shop:
    """The running stack as the pictures need it: its address, the event, and tokens to act."""

    base_url: str
    scene: Scene
    event: PicturedEvent
    http: aiohttp.ClientSession
    codec: TokenCodec

    @property
    def event_path(self) -> str:
        return f"/api/v1/events/{self.event.event_id}"

    async def call(self, method: str, path: str, token: str, body: Any = None) -> Any:
        async with self.http.request(
            method, self.base_url + path, json=body, headers={"Authorization": f"Bearer {token}"}
        ) as response:
            answer = await response.json() if response.content_length != 0 else None
            if not response.ok:
                raise RuntimeError(f"{method} {path}: {response.status} {answer}")
            return answer

    async def signup(self, name: str) -> dict[str, Any]:
        """A buyer signed up as the page's form does; the session as the page keeps it."""
        async with self.http.post(
            f"{self.base_url}/api/v1/auth/signup",
            json={
                "email": f"{name.lower()}@example.com",
                "password": "correct horse battery",
                "name": name,
            },
        ) as response:
            answer = await response.json()
            if response.status != 201:
                raise RuntimeError(f"signup: {response.status} {answer}")
        return {"token": answer["token"], "user": answer["user"], "expiresAt": answer["expires_at"]}

    async def buyer_tokens(self, db: Database, count: int) -> list[str]:
        """Bearer tokens of `count` new buyers, minted directly (no argon2, no logins)."""
        async with db.transaction() as conn:
            user_ids = await create_buyers(conn, count)
        return [self.codec.issue(user, Role.BUYER).token for user in user_ids]


def environment(servers: Servers) -> dict[str, str]:
    # Thousands of holds and queue joins from one loopback address in a few seconds.
    return stack_environment(servers, RATE_LIMITS="off")


async def in_flight(work: Iterator[Awaitable[Any]]) -> list[Any]:
    """Every awaitable of `work`, IN_FLIGHT at a time."""
    gate = asyncio.Semaphore(IN_FLIGHT)

    async def one(job: Awaitable[Any]) -> Any:
        async with gate:
            return await job

    return await asyncio.gather(*(one(job) for job in work))


async def take_pictures(shop: Shop, db: Database, out: Path) -> list[Path]:
    holds = crowd_holds(shop.event)
    crowd = await shop.buyer_tokens(db, len(holds))
    await in_flight(
        shop.call("POST", f"{shop.event_path}/holds", token, {"seat_ids": seats})
        for token, seats in zip(crowd, holds, strict=True)
    )
    seats = len(shop.event.seats)
    print(f"{sum(map(len, holds))} of {seats} seats held by {len(holds)} buyers")
    overview, section = out / "seatmap-overview.png", out / "seatmap-section.png"
    width, height, event_id = DESKTOP["width"], DESKTOP["height"], shop.event.event_id
    await capture_seat_map(shop.base_url, event_id, overview, width=width, height=height)
    await capture_seat_map(
        shop.base_url, event_id, section, width=width, height=height, section=shop.scene.section
    )

    ada = await shop.signup("Ada")
    held = await shop.call(
        "POST", f"{shop.event_path}/holds", ada["token"], {"seat_ids": shop.event.own_seat_ids}
    )
    # Where the page keeps the session and the hold it made.
    stored = {
        "rushqueue.session": json.dumps(ada),
        f"rushqueue.hold.{event_id}": held["hold"]["id"],
    }
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            hold_panel = await _hold_panel(shop, browser, stored, out / "hold-panel.png")
            review = await _order_review(shop, browser, stored, out / "order-review.png")
            queue = await _waiting_room(shop, browser, db, crowd, out / "waiting-room.png")
        finally:
            await browser.close()
    return [overview, section, hold_panel, review, queue]


async def _open_as(
    shop: Shop, browser: Browser, viewport: ViewportSize, stored: dict[str, str], route: str
) -> Page:
    """A page in a browser context of its own, in the event's time zone, with `stored` put in
    its sessionStorage before it opens `route`."""
    touch = viewport is PHONE
    context = await browser.new_context(
        viewport=viewport, has_touch=touch, is_mobile=touch, timezone_id=shop.event.time_zone
    )
    context.set_default_timeout(READY_TIMEOUT_MS)
    page = await context.new_page()
    await page.goto(shop.base_url + "/#/")
    await page.evaluate(
        "(stored) => { for (const [key, value] of Object.entries(stored))"
        " sessionStorage.setItem(key, value); }",
        stored,
    )
    await page.goto(f"{shop.base_url}/{route}")
    await page.reload()
    return page


async def _save(page: Page, path: Path) -> Path:
    # Drawn on the next animation frame: wait for one to pass.
    await page.evaluate("new Promise((done) => requestAnimationFrame(() => done()))")
    await page.screenshot(path=str(path))
    await page.context.close()
    return path


async def _hold_panel(shop: Shop, browser: Browser, stored: dict[str, str], path: Path) -> Path:
    page = await _open_as(shop, browser, PHONE, stored, f"#/events/{shop.event.event_id}")
    await page.locator('.connection[data-state="live"]').wait_for()
    own = len(shop.event.own_seat_ids)
    await page.locator(".hold-panel .panel-seats li").nth(own - 1).wait_for()
    await page.locator(f'.section-choice[data-section="{shop.scene.section}"]').click()
    # The map's foot at the screen's: the sticky panel above it, the held seats in view.
    await page.locator(".map-box").evaluate("(box) => box.scrollIntoView({block: 'end'})")
    return await _save(page, path)


async def _order_review(shop: Shop, browser: Browser, stored: dict[str, str], path: Path) -> Path:
    page = await _open_as(shop, browser, REVIEW, stored, f"#/events/{shop.event.event_id}/review")
    own = len(shop.event.own_seat_ids)
    await page.locator(".review-seats tbody tr").nth(own - 1).wait_for()
    return await _save(page, path)


async def _waiting_room(
    shop: Shop, browser: Browser, db: Database, crowd: Sequence[str], path: Path
) -> Path:
    """The event's waiting room turned on, the crowd queued, then one more buyer, pictured once
    admission has moved her bar."""
    async with db.transaction() as conn:
        organizer = await create_user(
            conn,
            email="organizer@example.com",
            name="Organizer",
            password_hash=NOT_A_HASH,
            role=Role.ADMIN,
        )
    await shop.call(
        "PUT",
        f"/api/v1/admin/events/{shop.event.event_id}/waiting-room",
        shop.codec.issue(organizer.id, Role.ADMIN).token,
        {
            "enabled": True,
            "queue_opens_at": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
            "admissions_per_minute": max(1, len(crowd) * 60 // ADMITTING_S),
            "max_inside": len(crowd) + 1,
            "session_minutes": 10,
            "paused": False,
        },
    )
    await in_flight(shop.call("POST", f"{shop.event_path}/queue", token) for token in crowd)
    grace = await shop.signup("Grace")
    await shop.call("POST", f"{shop.event_path}/queue", grace["token"])
    page = await _open_as(
        shop,
        browser,
        QUEUE,
        {"rushqueue.session": json.dumps(grace)},
        f"#/events/{shop.event.event_id}",
    )
    await page.locator('.queue-screen[data-state="waiting"]').wait_for()
    await page.locator('.connection[data-state="live"]').wait_for()
    await page.wait_for_function(
        "(shown) => document.querySelector('.queue-progress').value >= shown", arg=PROGRESS_SHOWN
    )
    return await _save(page, path)


async def run(scene: Scene, out: Path) -> list[Path]:
    async with private_servers() as servers:
        env = environment(servers)
        settings = settings_for(servers, **env)
        db = await Database.connect(settings.database)
        try:
            await migrate(db)
            event = await create_pictured_event(db, scene)
            with tempfile.TemporaryDirectory(prefix="rushqueue-docshots-") as logs:
                children = Children(env, Path(logs))
                commands = procfile()
                # The gateway last, so that it is stopped first (its shutdown talks to the engine).
                for name in sorted(commands, key=lambda name: name == "web"):
                    children.spawn(name, commands[name])
                try:
                    await wait_until_ready(settings.http.public_url, children)
                    await wait_for_owners(servers.redis_url, settings.engine.shards)
                    async with aiohttp.ClientSession() as http:
                        codec = TokenCodec(settings.jwt_secret, ttl_seconds=TOKEN_TTL_S)
                        shop = Shop(settings.http.public_url, scene, event, http, codec)
                        return await take_pictures(shop, db, out)
                finally:
                    children.stop(in_turn=True)
        finally:
            await db.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.docshots")
    parser.add_argument("--out", type=Path, default=Path("docs"), help="where the PNGs go")
    parser.add_argument("--quick", action="store_true", help="the small demo hall, not the arena")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    scene = HALL if args.quick else ARENA
    for path in asyncio.run(interruptible(run(scene, args.out))):
        print(f"{path} ({path.stat().st_size // 1024} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
