"""Hostile input in every field of every JSON-body endpoint, and in every id in a path.

Each value goes in as a raw JSON token, so NaN, 1e309 and lone surrogates arrive exactly as a
hostile client would send them. The server answers a 4xx in the one error shape, or a 2xx when
the value is in fact valid (a unicode name is), and never a 5xx; what it accepts, it stores and
reads back exactly as sent.
"""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote

import orjson
import pytest

from domain.statuses import Role
from gateway.app import make_app

if TYPE_CHECKING:
    from aiohttp import ClientResponse, web
    from aiohttp.test_utils import TestClient

    from config import Settings
    from persistence import Database
    from tests.helpers.catalog import MakeEvent
    from tests.helpers.engine import RunningEngine
    from tests.helpers.users import SignedUp, Signup

    Client = TestClient[web.Request, web.Application]

HOLE: Final = "\u2603HOSTILE\u2603"
MAX_BODY: Final = 64 * 1024  # the default HTTP_MAX_BODY_BYTES

# Hostile strings, as Python values: each is also sent as a JSON string below.
STRINGS: Final[dict[str, str]] = {
    "sql-or": "' OR 1=1 --",
    "sql-drop": '"; DROP TABLE users; --',
    "sql-comment": "admin'/*",
    "oversized": "x" * (MAX_BODY - 4096),
    "emoji": "\U0001f3b8 Rock \U0001f918\U0001f3fd",
    "rtl-mark": "\u202egnp.exe\u202c \u200f\u05e9\u05dc\u05d5\u05dd",
    "nul": "a\u0000b",
    "combining": "Zalgo\u0301\u0302\u0303\u0304\u0305\u0306",
    "homoglyph": "\u0430dmin\u0435",  # Cyrillic a and e
    "zero-width": "\u200b\u200d\ufeff",
    "html": "<script>alert(1)</script>",
    "empty": "",
}
# Raw JSON tokens that no Python string serializes to.
RAW: Final[dict[str, bytes]] = {
    "lone-surrogate-escape": b'"\\ud800"',
    "lone-surrogate-bytes": b'"\xed\xa0\x80"',
    "invalid-utf8": b'"\xff\xfe"',
    "2**63": str(2**63).encode(),
    "2**63-1": str(2**63 - 1).encode(),
    "10**30": str(10**30).encode(),
    "-1": b"-1",
    "zero": b"0",
    "1e309": b"1e309",
    "float": b"1.5",
    "NaN": b"NaN",
    "Infinity": b"Infinity",
    "-Infinity": b"-Infinity",
    "null": b"null",
    "true": b"true",
    "object": b'{"$ne": null}',
    "array": b'["a", 1]',
    "deep": b"[" * 10_000 + b"]" * 10_000,
    "wide": b"[" + b",".join([b"1"] * 100_000) + b"]",
    "over-limit": orjson.dumps("x" * (MAX_BODY * 2)),
}
VALUES: Final[dict[str, bytes]] = {
    **{name: orjson.dumps(value) for name, value in STRINGS.items()},
    **RAW,
}

Path = tuple[str | int, ...]


def body_with(template: dict[str, Any], path: Path, raw: bytes) -> bytes:
    """`template` as JSON with the value at `path` replaced by the raw token."""
    body = orjson.loads(orjson.dumps(template))
    target: Any = body
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = HOLE
    encoded = orjson.dumps(body)
    hole = orjson.dumps(HOLE)
    assert encoded.count(hole) == 1
    return encoded.replace(hole, raw)


async def problems_of(response: ClientResponse, label: str) -> list[str]:
    """What is wrong with an answer to hostile input: a 5xx, or an error not in the one shape."""
    status = response.status
    if status >= 500:
        return [f"{label}: {status} {(await response.text())[:300]}"]
    if status < 400:
        return []
    if response.content_type != "application/json":
        return [f"{label}: {status} as {response.content_type}"]
    body = await response.json()
    error = body.get("error") if isinstance(body, dict) else None
    if (
        not isinstance(error, dict)
        or set(body) != {"error"}
        or error.get("status") != status
        or not isinstance(error.get("code"), str)
        or not isinstance(error.get("message"), str)
    ):
        return [f"{label}: {status} not in the error shape: {body}"]
    return []


async def send(client: Client, path: str, raw: bytes, headers: dict[str, str]) -> ClientResponse:
    # A stream: aiohttp warns that a large bytes body would block the loop while it is sent.
    return await client.post(
        path, data=io.BytesIO(raw), headers={**headers, "Content-Type": "application/json"}
    )


def accepted_string(name: str) -> str | None:
    """The Python string a raw value decodes to, when it is one."""
    return STRINGS.get(name)


# -- the endpoints --------------------------------------------------------------------------


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    # Rate limits off: each test sends hundreds of signups and logins from one address.
    return make_settings(RATE_LIMITS="off")


@dataclass(frozen=True, slots=True)
class Field:
    endpoint: str
    path: Path


SIGNUP: Final = {"email": "fan@example.com", "password": "long enough", "name": "Fan"}
LOGIN: Final = {"email": "fan@example.com", "password": "long enough"}
VENUE: Final = {
    "name": "Hall",
    "categories": [{"code": "A", "name": "Front"}],
    "sections": [{"name": "Floor", "rows": 2, "seats": 3, "category": "A"}],
}
ROWS_VENUE: Final = {
    "name": "Club",
    "categories": [{"code": "A", "name": "Front"}],
    "sections": [{"name": "Floor", "rows": [{"label": "1", "seats": [1, 2], "category": "A"}]}],
}
EVENT: Final = {
    "name": "Night",
    "starts_at": "2030-05-01T19:30:00Z",
    "sale_starts_at": "2030-04-01T10:00:00+02:00",
    "sale_ends_at": "2030-05-01T18:00:00Z",
    "currency": "EUR",
    "max_seats_per_buyer": 4,
    "prices": {"A": 4500},
}

FIELDS: Final = [
    *(Field("signup", (name,)) for name in SIGNUP),
    *(Field("login", (name,)) for name in LOGIN),
    Field("holds", ("seat_ids",)),
    Field("holds", ("seat_ids", 0)),
    Field("venues", ("name",)),
    Field("venues", ("categories",)),
    Field("venues", ("categories", 0, "code")),
    Field("venues", ("categories", 0, "name")),
    Field("venues", ("sections",)),
    Field("venues", ("sections", 0, "name")),
    Field("venues", ("sections", 0, "rows")),
    Field("venues", ("sections", 0, "seats")),
    Field("venues", ("sections", 0, "category")),
    Field("rows-venues", ("sections", 0, "rows", 0, "label")),
    Field("rows-venues", ("sections", 0, "rows", 0, "seats")),
    Field("rows-venues", ("sections", 0, "rows", 0, "seats", 0)),
    Field("events", ("venue_id",)),
    *(Field("events", (name,)) for name in EVENT if name != "prices"),
    Field("events", ("prices",)),
    Field("events", ("prices", "A")),
]


@dataclass(slots=True)
class Stage:
    """Who calls each endpoint, and with what valid body the hostile value is put into."""

    client: Client
    buyer: SignedUp
    admin: SignedUp
    event_id: int
    venue_id: int
    serial: int = 0

    def target(self, endpoint: str) -> tuple[str, dict[str, Any], dict[str, str]]:
        self.serial += 1
        if endpoint == "signup":
            body = {**SIGNUP, "email": f"fan{self.serial}@example.com"}
            return "/api/v1/auth/signup", body, {}
        if endpoint == "login":
            return "/api/v1/auth/login", dict(LOGIN), {}
        if endpoint == "holds":
            url = f"/api/v1/events/{self.event_id}/holds"
            return url, {"seat_ids": [10**9]}, self.buyer.headers
        if endpoint == "venues":
            return "/api/v1/admin/venues", dict(VENUE), self.admin.headers
        if endpoint == "rows-venues":
            return "/api/v1/admin/venues", dict(ROWS_VENUE), self.admin.headers
        assert endpoint == "events"
        return "/api/v1/admin/events", {**EVENT, "venue_id": self.venue_id}, self.admin.headers


@pytest.fixture
async def stage(
    client: Client, engine: RunningEngine, signup: Signup, make_event: MakeEvent
) -> Stage:
    event = await make_event(seats=2)
    return Stage(
        client=client,
        buyer=await signup(email="fan@example.com", password="long enough"),
        admin=await signup(role=Role.ADMIN),
        event_id=event.event_id,
        venue_id=event.venue_id,
    )


async def user_emails(db: Database) -> list[str]:
    async with db.transaction() as conn:
        rows = await conn.fetch_all("SELECT email FROM users ORDER BY id")
    return [str(row["email"]) for row in rows]


async def read_back(
    stage: Stage, endpoint: str, path: Path, response: ClientResponse, sent: str | None
) -> Any:
    """The accepted field as the API shows it afterwards, read through a second request."""
    client = stage.client
    body = await response.json()
    if endpoint == "signup" and path == ("password",):
        login = await client.post(
            "/api/v1/auth/login", json={"email": body["user"]["email"], "password": sent}
        )
        return sent if login.status == 200 else f"login answered {login.status}"
    if endpoint == "signup" and path == ("name",):
        me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['token']}"})
        return (await me.json())["user"]["name"]
    if endpoint in ("venues", "rows-venues") and path == ("name",):
        listed = await client.get("/api/v1/admin/venues", headers=stage.admin.headers)
        venues = (await listed.json())["venues"]
        return next(v["name"] for v in venues if v["id"] == body["venue"]["id"])
    if endpoint in ("venues", "rows-venues") and path[0] == "categories" and len(path) == 3:
        return body["venue"]["categories"][0][path[-1]]
    if endpoint == "events" and path == ("name",):
        shown = await client.get(f"/api/v1/events/{body['event']['id']}")
        return (await shown.json())["event"]["name"]
    return None


VALID_TOKENS: Final[dict[Path, set[str]]] = {
    ("max_seats_per_buyer",): {"null"},  # null means the default
    ("prices", "A"): {"zero"},  # a free category
}


@pytest.mark.parametrize(
    "target", FIELDS, ids=lambda f: f"{f.endpoint}:{'.'.join(map(str, f.path))}"
)
async def test_hostile_values_in_every_field(stage: Stage, target: Field) -> None:
    problems: list[str] = []
    accepted: dict[str, Any] = {}

    for name, raw in VALUES.items():
        url, template, headers = stage.target(target.endpoint)
        response = await send(stage.client, url, body_with(template, target.path, raw), headers)
        problems += await problems_of(response, name)
        if 200 <= response.status < 300:
            value = accepted_string(name)
            shown = await read_back(stage, target.endpoint, target.path, response, value)
            accepted[name] = shown
            # Handlers trim names (the documented rule); a password is kept as sent.
            expected = value if target.path == ("password",) else (value or "").strip()
            if shown is not None and shown != expected:
                problems.append(f"{name}: stored as {shown!r}, sent {value!r}")
        elif name == "over-limit" and response.status != 413:
            problems.append(f"{name}: {response.status}, not 413")

    assert problems == []
    # Of the tokens that are not strings, only these are valid, each in its one field.
    assert set(accepted) <= set(STRINGS) | VALID_TOKENS.get(target.path, set()), accepted


async def test_hostile_category_codes_as_price_keys_are_refused(stage: Stage) -> None:
    problems: list[str] = []

    for name, value in STRINGS.items():
        url, template, headers = stage.target("events")
        body = {**template, "prices": {value: 4500}}
        response = await stage.client.post(url, json=body, headers=headers)
        problems += await problems_of(response, name)
        if response.status != 422:
            problems.append(f"{name}: {response.status}, not 422")

    assert problems == []


async def test_checkout_ignores_any_body_it_is_sent(stage: Stage, make_event: MakeEvent) -> None:
    event = await make_event(seats=1)
    held = await stage.client.post(
        f"/api/v1/events/{event.event_id}/holds",
        json={"seat_ids": [event.seat_ids[0]]},
        headers=stage.buyer.headers,
    )
    url = f"/api/v1/holds/{(await held.json())['hold']['id']}/checkout"
    answers: set[tuple[int, str]] = set()
    problems: list[str] = []

    for name, raw in VALUES.items():
        response = await send(stage.client, url, raw, stage.buyer.headers)
        problems += await problems_of(response, name)
        if name != "over-limit":
            answers.add((response.status, (await response.json()).get("session_id", "")))

    assert problems == []
    # The same open checkout every time, whatever the body said.
    assert len(answers) == 1
    assert next(iter(answers))[0] == 201


async def test_a_unicode_name_reads_back_exactly_as_sent(client: Client) -> None:
    names = [STRINGS[key] for key in ("emoji", "rtl-mark", "nul", "combining", "homoglyph")]
    shown = []

    for index, name in enumerate(names):
        response = await client.post(
            "/api/v1/auth/signup",
            json={"email": f"u{index}@example.com", "password": "long enough", "name": name},
        )
        assert response.status == 201, await response.text()
        token = (await response.json())["token"]
        me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        shown.append((await me.json())["user"]["name"])

    assert shown == names


@pytest.mark.parametrize("email", ["' OR 1=1 --", '"; DROP TABLE users; --', "a@b.co' --"])
async def test_an_injection_email_is_refused_and_the_users_table_is_intact(
    client: Client, db: Database, signup: Signup, email: str
) -> None:
    victim = await signup(email="victim@example.com", password="long enough")

    made = await client.post(
        "/api/v1/auth/signup", json={"email": email, "password": "long enough", "name": "x"}
    )
    logged = await client.post(
        "/api/v1/auth/login", json={"email": email, "password": "long enough"}
    )
    again = await client.post(
        "/api/v1/auth/login", json={"email": victim.email, "password": "long enough"}
    )

    assert made.status == 422
    assert (await made.json())["error"]["field"] == "email"
    assert logged.status == 401
    assert (await logged.json())["error"]["code"] == "invalid_credentials"
    assert again.status == 200
    assert await user_emails(db) == ["victim@example.com"]


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        (
            b'{"email":"dup@example.com","password":"long enough","name":"First","name":"Last"}',
            "Last",
        ),
        (b'{"email":"dup@example.com","password":"long enough","name":" ","name":"Last"}', "Last"),
    ],
    ids=["both-valid", "first-blank"],
)
async def test_duplicate_keys_mean_the_last_one(client: Client, raw: bytes, stored: str) -> None:
    response = await client.post(
        "/api/v1/auth/signup", data=raw, headers={"Content-Type": "application/json"}
    )

    assert response.status == 201, await response.text()
    token = (await response.json())["token"]
    me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert (await me.json())["user"]["name"] == stored


async def test_a_duplicate_key_cannot_smuggle_a_bad_value_past_the_check(client: Client) -> None:
    raw = b'{"email":"dup@example.com","password":"long enough","name":"Ok","name":"  "}'

    response = await client.post(
        "/api/v1/auth/signup", data=raw, headers={"Content-Type": "application/json"}
    )

    assert response.status == 422
    assert (await response.json())["error"]["field"] == "name"


# -- huge bodies past the size limit -------------------------------------------------------


@pytest.fixture
async def roomy_client(
    aiohttp_client: Callable[..., Awaitable[Client]], make_settings: Callable[..., Settings]
) -> Client:
    """The app with room for a 100,000-item array and 10,000 levels of nesting to reach the JSON
    parser and the handlers, instead of stopping at the default 64 KiB limit's 413."""
    roomy = make_settings(HTTP_MAX_BODY_BYTES=str(4 * 1024 * 1024), RATE_LIMITS="off")
    return await aiohttp_client(make_app(roomy))


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b'{"seat_ids": ' + RAW["wide"] + b"}", "invalid_input"),
        (b'{"seat_ids": ' + RAW["deep"] + b"}", "malformed_json"),
        (b"[" * 10_000 + b"]" * 10_000, "malformed_json"),
        (b'{"a":' * 10_000 + b"1" + b"}" * 10_000, "malformed_json"),
        (b'{"seat_ids": [1], ' + b",".join(b'"k%d": 1' % i for i in range(100_000)) + b"}", None),
    ],
    ids=["wide-array", "deep-array-field", "deep-array-body", "deep-object-body", "many-keys"],
)
async def test_huge_bodies_are_refused_cleanly(
    stage: Stage, roomy_client: Client, raw: bytes, code: str | None
) -> None:
    url, _, headers = stage.target("holds")

    response = await send(roomy_client, url, raw, headers)

    assert await problems_of(response, "huge") == []
    assert 400 <= response.status < 500
    if code is not None:
        assert (await response.json())["error"]["code"] == code


# -- hostile ids in paths ------------------------------------------------------------------

PATH_VALUES: Final = {
    **{name: quote(value, safe="") for name, value in STRINGS.items() if name != "oversized"},
    "long": "9" * 5000,
    "2**63": str(2**63),
    "-1": "-1",
    "1e309": "1e309",
    "NaN": "NaN",
    "lone-surrogate": "%ED%A0%80",
    "invalid-utf8": "%FF%FE",
    "dot-dot": "..%2F..%2Fetc%2Fpasswd",
    "percent": "%25",
}


async def test_hostile_ids_in_every_path_are_404s(stage: Stage) -> None:
    client = stage.client
    problems: list[str] = []

    for name, value in PATH_VALUES.items():
        calls = [
            ("GET", f"/api/v1/events/{value}", {}),
            ("GET", f"/api/v1/events/{value}/seats", {}),
            ("POST", f"/api/v1/events/{value}/holds", stage.buyer.headers),
            ("GET", f"/api/v1/holds/{value}", stage.buyer.headers),
            ("DELETE", f"/api/v1/holds/{value}", stage.buyer.headers),
            ("POST", f"/api/v1/holds/{value}/checkout", stage.buyer.headers),
            ("GET", f"/checkout/local/{value}", {}),
            ("POST", f"/checkout/local/{value}/pay", {}),
            ("GET", f"/api/v1/payments/success?session_id={value}", {}),
        ]
        for method, url, headers in calls:
            response = await client.request(method, url, headers=headers, json={"seat_ids": [1]})
            problems += await problems_of(response, f"{name} {method} {url[:60]}")
            if response.status not in (404, 422):
                problems.append(f"{name} {method} {url[:60]}: {response.status}")

    assert problems == []
