"""The buyer's page in headless Chromium, against the whole stack on a real loopback port.

Chromium is Debian's (`devstack/ensure-system-packages.sh` installs it), started once per
session with a DevTools port; each test attaches Playwright to it over CDP from the test's own
event loop and works in fresh browser contexts, so no async object outlives its loop. The gateway
runs with an in-process engine over the test's clean Redis and MariaDB, with the local checkout.

Every wait is one of Playwright's auto-waiting `expect(...)` assertions, never a sleep.
"""

from __future__ import annotations

import itertools
import json
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Protocol

import aiohttp
import pytest
from aiohttp import web
from playwright.async_api import (
    Browser,
    BrowserContext,
    Locator,
    Page,
    async_playwright,
    expect,
)

from domain.statuses import Role
from gateway.app import make_app
from gateway.appkeys import PASSWORDS
from persistence.users import create_user
from tests.helpers.catalog import MadeEvent, create_on_sale_event
from tests.helpers.engine import RunningEngine
from tests.helpers.users import DEFAULT_PASSWORD

if TYPE_CHECKING:
    from config import Settings
    from engine.redis_client import RedisClient
    from persistence import Database

CHROMIUM: Final = "/usr/bin/chromium"
DEVTOOLS_WAIT_SECONDS: Final = 20.0
# Long enough for a loaded CI machine; every expectation passes as soon as it holds.
EXPECT_TIMEOUT_MS: Final = 10_000
expect.set_options(timeout=EXPECT_TIMEOUT_MS)
NO_SUCH_SEAT: Final = 2**62


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(item.path).is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Headless Chromium for the whole session; yields its DevTools address."""
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is missing: run `make browser-packages` (as root) first")
    profile = tmp_path_factory.mktemp("chromium")
    process = subprocess.Popen(
        [
            CHROMIUM,
            "--headless=new",
            "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0",
            f"--user-data-dir={profile}",
            # Root in a container has no user namespaces for the sandbox; the pages are ours.
            "--no-sandbox",
            "--no-first-run",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield f"http://127.0.0.1:{_devtools_port(profile, process)}"
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _devtools_port(profile: Path, process: subprocess.Popen[bytes]) -> int:
    """Chromium writes the port it picked to DevToolsActivePort once it listens."""
    port_file = profile / "DevToolsActivePort"
    deadline = time.monotonic() + DEVTOOLS_WAIT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"chromium exited with {process.returncode} before listening")
        lines = port_file.read_text().splitlines() if port_file.exists() else []
        if lines and lines[0].isdigit():
            return int(lines[0])
        time.sleep(0.05)
    pytest.fail(f"chromium did not open its DevTools port within {DEVTOOLS_WAIT_SECONDS}s")


@pytest.fixture
async def browser(chromium: str) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        attached = await playwright.chromium.connect_over_cdp(chromium)
        yield attached
        # Detaches only: the session's Chromium keeps running for the next test.
        await attached.close()


def seat_button(page: Page, seat_id: int) -> Locator:
    return page.locator(f'button[data-seat-id="{seat_id}"]')


class NewPage(Protocol):
    async def __call__(self, *, width: int = 1280, touch: bool = False) -> Page: ...


@pytest.fixture
async def new_page(browser: Browser) -> AsyncIterator[NewPage]:
    """A page in a browser context of its own (own storage, like another person's browser)."""
    contexts: list[BrowserContext] = []

    async def make(*, width: int = 1280, touch: bool = False) -> Page:
        """`touch`: a phone's touch screen (taps, no hover) instead of a mouse."""
        context = await browser.new_context(
            viewport={"width": width, "height": 900}, has_touch=touch, is_mobile=touch
        )
        context.set_default_timeout(EXPECT_TIMEOUT_MS)
        contexts.append(context)
        return await context.new_page()

    yield make
    for context in contexts:
        await context.close()


@dataclass(frozen=True, slots=True)
class Person:
    user_id: int
    email: str
    password: str
    session: dict[str, Any]  # what the page keeps in sessionStorage


@dataclass(slots=True)
class Stack:
    """The gateway on `base_url` and an engine, over the test's Redis and MariaDB."""

    base_url: str
    settings: Settings
    app: web.Application
    db: Database
    http: aiohttp.ClientSession
    _serial: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    async def event(self, **options: Any) -> MadeEvent:
        return await create_on_sale_event(self.db, **options)

    async def buyer(self) -> Person:
        """A buyer signed up through the API, as the page's signup form would."""
        email = f"buyer{next(self._serial)}@example.com"
        answer = await self.call(
            "POST",
            "/api/v1/auth/signup",
            {"email": email, "password": DEFAULT_PASSWORD, "name": f"Buyer {email[5]}"},
        )
        return Person(answer["user"]["id"], email, DEFAULT_PASSWORD, _stored_session(answer))

    async def admin(self) -> Person:
        """An organizer: admins cannot sign up, so the row is written directly."""
        email = f"admin{next(self._serial)}@example.com"
        password_hash = await self.app[PASSWORDS].hash(DEFAULT_PASSWORD)
        async with self.db.transaction() as conn:
            user = await create_user(
                conn, email=email, name="Organizer", password_hash=password_hash, role=Role.ADMIN
            )
        return Person(user.id, email, DEFAULT_PASSWORD, {})

    async def load_into_engine(self, event_id: int, person: Person) -> None:
        """Have the engine load the event now. Loading tells open seat maps to start again from a
        snapshot, which may then cover changes that would otherwise arrive one by one; a test
        of the change stream loads first. A seat the event lacks is refused, changing nothing."""
        async with self.http.post(
            f"{self.base_url}/api/v1/events/{event_id}/holds",
            json={"seat_ids": [NO_SUCH_SEAT]},
            headers={"Authorization": f"Bearer {person.session['token']}"},
        ) as response:
            assert response.status == 422, await response.text()

    async def buy(self, person: Person, event_id: int, seat_ids: list[int]) -> None:
        """Hold, check out and pay on the local checkout, as another tab of the buyer's would;
        the checkout's webhook books the seats before the Pay answers."""
        held = await self.call(
            "POST", f"/api/v1/events/{event_id}/holds", {"seat_ids": seat_ids}, person=person
        )
        hold_id = held["hold"]["id"]
        checkout = await self.call("POST", f"/api/v1/holds/{hold_id}/checkout", person=person)
        async with self.http.post(
            f"{self.base_url}/checkout/local/{checkout['session_id']}/pay", allow_redirects=False
        ) as paid:
            assert paid.status == 303, await paid.text()

    async def call(
        self, method: str, path: str, body: Any = None, *, person: Person | None = None
    ) -> Any:
        """The API as another client (another tab, another buyer) would call it."""
        headers = {"Authorization": f"Bearer {person.session['token']}"} if person else {}
        async with self.http.request(
            method, self.base_url + path, json=body, headers=headers
        ) as response:
            answer = await response.json() if response.content_length != 0 else None
            assert response.ok, answer
            return answer

    async def open_as(self, page: Page, person: Person, hash_route: str) -> None:
        """Open the page already logged in as `person` (login itself is tested on its own)."""
        await page.goto(self.base_url + "/#/")
        await page.evaluate(
            "session => sessionStorage.setItem('rushqueue.session', session)",
            json.dumps(person.session),
        )
        await page.goto(f"{self.base_url}/{hash_route}")
        await page.reload()


def _stored_session(answer: dict[str, Any]) -> dict[str, Any]:
    return {"token": answer["token"], "user": answer["user"], "expiresAt": answer["expires_at"]}


class OpenStack(Protocol):
    async def __call__(self, **env: str) -> Stack: ...


@pytest.fixture
async def open_stack(
    make_settings: Callable[..., Settings], db: Database, redis: RedisClient
) -> AsyncIterator[OpenStack]:
    """`await open_stack(HOLD_TTL_SECONDS="3")`: the gateway on a free loopback port (known
    before the app is built, so PUBLIC_URL and the checkout's return address are right) and an
    engine, both stopped after the test."""
    runners: list[web.AppRunner] = []
    engines: list[RunningEngine] = []
    http = aiohttp.ClientSession()

    async def start(**env: str) -> Stack:
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        base_url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        settings = make_settings(PUBLIC_URL=base_url, **env)
        engine = RunningEngine(settings, db)
        await engine.start()
        engines.append(engine)
        app = make_app(settings)
        runner = web.AppRunner(app)
        await runner.setup()
        runners.append(runner)
        await web.SockSite(runner, listener).start()
        return Stack(base_url, settings, app, db, http)

    yield start
    await http.close()
    for runner in runners:
        await runner.cleanup()
    for engine in engines:
        await engine.stop()
