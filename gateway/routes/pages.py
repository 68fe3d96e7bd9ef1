"""The buyer's page: one HTML shell and the scripts and styles it loads, served from the package.

Outside `/api/`, so the guard lets anyone in; the page itself holds nothing private, and it calls
the API with the buyer's token like any other client. There is no build step: the files under
`gateway/static/` are what the browser runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from aiohttp import web

from domain.errors import NotFound
from gateway.appkeys import SETTINGS
from gateway.auth.guard import public

routes = web.RouteTableDef()

STATIC_ROOT: Final = Path(__file__).resolve().parent.parent / "static"

# The kinds of file the page is made of, typed here rather than by the system's MIME table (which
# calls a script application/javascript on one machine and text/javascript on another). Any
# other file is not served.
CONTENT_TYPES: Final = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
}

# Sent with every page the gateway serves, the buyer's and the checkout's: nothing is sniffed into
# something else, framed, or told where the buyer came from.
_SECURITY_HEADERS: Final = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


def content_security_policy(public_url: str) -> str:
    """Scripts, styles and API calls from this origin only; no inline script at all.

    `'self'` covers ws:/wss: to this host in current browsers; the public origin's websocket
    scheme is named as well for older ones (and for a proxy that changes the scheme).
    """
    origin = urlsplit(public_url)
    socket_scheme = "wss" if origin.scheme == "https" else "ws"
    return "; ".join(
        (
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            f"connect-src 'self' {socket_scheme}://{origin.netloc}",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )


def page_headers(public_url: str) -> dict[str, str]:
    """The security headers of every HTML page, the policy included."""
    return {**_SECURITY_HEADERS, "Content-Security-Policy": content_security_policy(public_url)}


def html_page(request: web.Request, html: str) -> web.Response:
    """A page made for this request (a checkout's state): never cached, since it changes."""
    headers = {**page_headers(request.app[SETTINGS].http.public_url), "Cache-Control": "no-store"}
    return web.Response(text=html, content_type="text/html", headers=headers)


@routes.get("/")
@public
async def index(request: web.Request) -> web.FileResponse:
    return _file(request, STATIC_ROOT / "index.html")


@routes.get("/static/{path:.+}")
@public
async def static_file(request: web.Request) -> web.FileResponse:
    return _file(request, _static_path(request.match_info["path"]))


def _file(request: web.Request, path: Path) -> web.FileResponse:
    """Every file with the same headers, the policy included: it only matters on the HTML, but
    the HTML is reachable under /static/ too. "no-cache" makes the browser revalidate (cheap, by
    Last-Modified), so a deploy is seen at once without content-hashed file names."""
    headers = {
        **page_headers(request.app[SETTINGS].http.public_url),
        "Cache-Control": "no-cache",
        "Content-Type": CONTENT_TYPES[path.suffix],
    }
    return web.FileResponse(path, headers=headers)


def _static_path(relative: str) -> Path:
    """The file under STATIC_ROOT that `relative` names, or a 404: `..`, absolute paths and
    symlinks out of the folder all resolve outside it, and other kinds of file are not ours."""
    try:
        path = (STATIC_ROOT / relative).resolve()
        ours = path.is_relative_to(STATIC_ROOT) and path.is_file()
    except (OSError, ValueError):  # a name too long for the file system, a NUL byte
        ours = False
    if not ours or path.suffix not in CONTENT_TYPES:
        raise NotFound("No such resource")
    return path
