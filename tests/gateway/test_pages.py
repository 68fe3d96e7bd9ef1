"""The buyer's page as files: served to anyone with safe headers, nothing outside its folder,
and scripts that the Content-Security-Policy lets run and that never write API data as HTML."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Final

import pytest

from gateway.routes.pages import STATIC_ROOT, content_security_policy

if TYPE_CHECKING:
    from pathlib import Path

    from aiohttp import web
    from aiohttp.test_utils import TestClient

    Client = TestClient[web.Request, web.Application]

SCRIPTS: Final = sorted(STATIC_ROOT.glob("js/*.js"))
_IMPORT: Final = re.compile(r'^import .* from "\./([a-z]+\.js)";$', re.MULTILINE)


async def test_the_page_is_served_with_a_strict_policy(client: Client) -> None:
    response = await client.get("/", headers={"Authorization": "Bearer stale"})

    assert response.status == 200
    assert response.content_type == "text/html"
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "style-src 'self'" in policy
    assert "default-src 'none'" in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    html = await response.text()
    assert re.findall(r"<script[^>]*>", html) == [
        '<script type="module" src="/static/js/app.js">'
    ], "no inline script: the policy would block it"
    assert "style=" not in html


def test_the_policy_lets_the_page_reach_its_own_websocket() -> None:
    assert "connect-src 'self' wss://tickets.example.com" in content_security_policy(
        "https://tickets.example.com"
    )
    assert "connect-src 'self' ws://127.0.0.1:8080" in content_security_policy(
        "http://127.0.0.1:8080"
    )


@pytest.mark.parametrize(
    ("path", "content_type"),
    [("/static/js/app.js", "text/javascript"), ("/static/css/app.css", "text/css")],
)
async def test_static_files_are_served_with_their_type(
    client: Client, path: str, content_type: str
) -> None:
    response = await client.get(path)

    assert response.status == 200
    assert response.content_type == content_type
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-cache"


@pytest.mark.parametrize(
    "path",
    [
        "/static/js/missing.js",
        "/static/js",
        "/static/%2e%2e/routes/pages.py",
        "/static/..%2f..%2fconfig%2fsettings.py",
        "/static/%2fetc%2fpasswd",
        "/static/js/%00.js",
        "/static/" + "x" * 5000 + ".js",
        "/static/index.html%00",
    ],
)
async def test_nothing_outside_the_static_folder_is_served(client: Client, path: str) -> None:
    response = await client.get(path)

    assert response.status == 404
    assert (await response.json())["error"]["code"] == "not_found"


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: path.name)
def test_every_script_is_strict_and_imports_only_files_that_exist(script: Path) -> None:
    source = script.read_text()
    assert source.startswith('"use strict";\n')
    for imported in _IMPORT.findall(source):
        assert (STATIC_ROOT / "js" / imported).is_file(), f"{script.name} imports {imported}"


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: path.name)
def test_no_script_writes_html(script: Path) -> None:
    """Text from the API goes in with textContent or text nodes (gateway/static/js/dom.js), so
    nothing a buyer or organizer typed can become markup."""
    source = script.read_text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in source, f"{script.name} uses {sink}"


def test_every_module_the_page_imports_is_preloaded_at_once() -> None:
    """Without a build step, modules found import by import would load level by level; a
    `modulepreload` link per module lets the browser fetch all of them in parallel."""
    html = (STATIC_ROOT / "index.html").read_text()
    preloaded = set(re.findall(r'<link rel="modulepreload" href="/static/js/([a-z]+\.js)">', html))
    entry = set(re.findall(r'<script type="module" src="/static/js/([a-z]+\.js)">', html))
    imported = {name for script in SCRIPTS for name in _IMPORT.findall(script.read_text())}

    assert entry == {"app.js"}
    assert preloaded == imported
    assert preloaded | entry == {script.name for script in SCRIPTS}
