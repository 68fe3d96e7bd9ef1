"""`python -m gateway`, run as a real subprocess against the test servers."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from devstack.servers import LOOPBACK, free_port
from domain.statuses import Role
from persistence.users import find_user_by_email

if TYPE_CHECKING:
    from devstack.servers import MariaDBServer
    from persistence import Database

LAYOUTS = Path(__file__).parents[2] / "devstack" / "layouts"


@dataclass(frozen=True, slots=True)
class Ran:
    code: int
    stdout: str
    stderr: str


@pytest.fixture
def cli_env(redis_url: str, mariadb_server: MariaDBServer) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "REDIS_URL", "RUSHQUEUE_ADMIN_PASSWORD")
    }
    env.update(
        RUSHQUEUE_ENV="test",
        DATABASE_URL=mariadb_server.url,
        REDIS_URL=redis_url,
        ARGON2_PROFILE="cheapest",
        LOG_LEVEL="WARNING",
    )
    return env


async def run_cli(env: dict[str, str], *args: str) -> Ran:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gateway",
        *args,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await process.communicate()
    assert process.returncode is not None
    return Ran(process.returncode, stdout.decode(), stderr.decode())


def write_json(path: Path, value: Any) -> Path:
    path.write_text(json.dumps(value))
    return path


async def count(db: Database, table: str) -> int:
    async with db.transaction() as conn:
        found: int = await conn.fetch_value(f"SELECT COUNT(*) FROM {table}")  # noqa: S608
        return found


async def test_the_example_files_create_a_venue_then_an_event(
    cli_env: dict[str, str], db: Database, tmp_path: Path
) -> None:
    venue_run = await run_cli(cli_env, "create-venue", "--file", str(LAYOUTS / "demo-venue.json"))
    assert venue_run.code == 0, venue_run.stderr
    venue = json.loads(venue_run.stdout)["venue"]
    assert venue["name"] == "Riverside Hall"
    assert venue["seats"] == await count(db, "seats") > 0

    event_file = json.loads((LAYOUTS / "demo-event.json").read_text())
    event_file["venue_id"] = venue["id"]
    event_run = await run_cli(
        cli_env, "create-event", "--file", str(write_json(tmp_path / "event.json", event_file))
    )

    assert event_run.code == 0, event_run.stderr
    event = json.loads(event_run.stdout)["event"]
    assert (event["venue_id"], event["seats_total"]) == (venue["id"], venue["seats"])
    assert event["starts_at"] == "2030-05-01T17:30:00+00:00"
    assert event["time_zone"] == "Europe/Amsterdam"  # 19:30 there, as the file writes it
    assert {price["category"] for price in event["prices"]} == {"A", "B", "C"}


async def test_a_bad_layout_file_says_which_field_and_exits_1(
    cli_env: dict[str, str], db: Database, tmp_path: Path
) -> None:
    layout = json.loads((LAYOUTS / "demo-venue.json").read_text())
    layout["sections"][0]["rows"][2]["category"] = "VIP"
    path = write_json(tmp_path / "layout.json", layout)

    ran = await run_cli(cli_env, "create-venue", "--file", str(path))

    assert ran.code == 1
    assert ran.stdout == ""
    assert ran.stderr.splitlines() == [
        f"error: {path}: 'sections[0].rows[2].category' is 'VIP', which is not one of 'categories'"
    ]
    assert await count(db, "venues") == 0


@pytest.mark.parametrize(
    ("content", "words"),
    [(None, "cannot read"), (b"{not json", "is not valid JSON")],
)
async def test_an_unreadable_file_exits_1(
    cli_env: dict[str, str], tmp_path: Path, content: bytes | None, words: str
) -> None:
    path = tmp_path / "layout.json"
    if content is not None:
        path.write_bytes(content)

    ran = await run_cli(cli_env, "create-venue", "--file", str(path))

    assert ran.code == 1
    assert len(ran.stderr.splitlines()) == 1
    assert words in ran.stderr
    assert str(path) in ran.stderr


async def test_an_event_for_an_unknown_venue_exits_1(
    cli_env: dict[str, str], db: Database, tmp_path: Path
) -> None:
    event_file = json.loads((LAYOUTS / "demo-event.json").read_text())
    event_file["venue_id"] = 987654

    ran = await run_cli(
        cli_env, "create-event", "--file", str(write_json(tmp_path / "event.json", event_file))
    )

    assert (ran.code, ran.stderr) == (1, "error: No venue 987654\n")


async def test_a_bad_setting_is_one_line_naming_the_variable_and_exits_2(
    cli_env: dict[str, str],
) -> None:
    ran = await run_cli(
        {**cli_env, "HTTP_PORT": "eighty"},
        "create-venue",
        "--file",
        str(LAYOUTS / "demo-venue.json"),
    )

    assert ran.code == 2
    assert ran.stderr.splitlines() == [
        "configuration error: HTTP_PORT='eighty' is invalid: "
        "invalid literal for int() with base 10: 'eighty'"
    ]


async def test_create_admin_takes_the_password_from_the_environment(
    cli_env: dict[str, str], db: Database
) -> None:
    env = {**cli_env, "RUSHQUEUE_ADMIN_PASSWORD": "a long enough secret"}

    ran = await run_cli(env, "create-admin", "Boss@Example.com", "--name", "The Boss")
    again = await run_cli(env, "create-admin", "boss@example.com")

    assert ran.code == 0, ran.stderr
    async with db.transaction() as conn:
        user = await find_user_by_email(conn, "boss@example.com")
    assert user is not None
    assert (user.role, user.name) == (Role.ADMIN, "The Boss")
    assert ran.stdout == f"admin {user.id} created: boss@example.com\n"
    assert again.code == 1
    assert "already exists" in again.stderr


async def test_create_admin_without_a_password_or_terminal_exits_1(
    cli_env: dict[str, str], db: Database
) -> None:
    ran = await run_cli(cli_env, "create-admin", "boss@example.com")

    assert ran.code == 1
    assert "RUSHQUEUE_ADMIN_PASSWORD" in ran.stderr
    assert await count(db, "users") == 0


async def test_create_admin_refuses_a_short_password(cli_env: dict[str, str], db: Database) -> None:
    ran = await run_cli(cli_env, "create-admin", "boss@example.com", "--password", "short")

    assert ran.code == 1
    assert "8 to 256 characters" in ran.stderr
    assert await count(db, "users") == 0


async def test_load_demo_twice_reports_the_same_event(
    cli_env: dict[str, str], db: Database
) -> None:
    first = await run_cli(cli_env, "load-demo")
    second = await run_cli(cli_env, "load-demo")

    assert first.code == 0, first.stderr
    assert second.stdout == first.stdout
    assert "demo login: demo@rushqueue.local / demo-password" in first.stdout
    assert await count(db, "events") == 1


async def test_serve_answers_then_stops_promptly_on_sigterm(
    cli_env: dict[str, str], db: Database
) -> None:
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gateway",
        "serve",
        env={**cli_env, "HTTP_PORT": str(port), "LOG_LEVEL": "INFO"},
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stderr is not None
        async with asyncio.timeout(20):
            # run_app logs its address once the socket is listening.
            while f"{LOOPBACK}:{port}" not in (await process.stderr.readline()).decode():
                assert not process.stderr.at_eof(), "serve exited before listening"
        reader, writer = await asyncio.open_connection(LOOPBACK, port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert (await reader.read()).startswith(b"HTTP/1.1 200")
        writer.close()
        await writer.wait_closed()

        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(10):
            await process.stderr.read()
            code = await process.wait()
        assert code == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
