"""`python -m gateway <command>`: run the server, and the organizer's tasks that have no UI.

Exit codes: 0 done, 1 the command failed (its message says why), 2 bad configuration or usage.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import getpass
import logging
import os
import sys
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeVar

import orjson
from aiohttp import web
from redis.exceptions import RedisError

from config import Settings, SettingsError
from devstack.demo import load_demo
from domain.catalog import parse_event_spec, parse_venue_layout
from domain.errors import DomainError
from domain.statuses import Role
from engine.client import EngineClient
from engine.redis_client import connect_redis
from engine.shard_count import ShardCountMismatch, claim_when_reachable
from gateway.app import make_app
from gateway.auth.passwords import PasswordHasher
from gateway.auth.revocation import revoke_user, unrevoke_user
from gateway.event_settings import EventSettings, change_event_settings
from gateway.routes.auth import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from gateway.views.catalog import event_detail_view, venue_view
from gateway.waiting_rooms import (
    RoomChanges,
    change_waiting_room,
    parse_opens_at,
    show_waiting_room,
)
from persistence import Database, DatabaseUnavailable
from persistence.catalog import create_event, create_venue, get_event, get_venue
from persistence.users import active_hold_count, anonymise_user, create_user, find_user_by_email
from telemetry.logs import configure_logging

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

T = TypeVar("T")

log = logging.getLogger("gateway")

ADMIN_PASSWORD_ENV: Final = "RUSHQUEUE_ADMIN_PASSWORD"  # noqa: S105 - a variable's name


class CommandError(Exception):
    """The command cannot go on; the message is printed as is."""


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.telemetry.log_format)
    if args.command == "serve":
        try:
            asyncio.run(_check_shard_count(settings))
        except ShardCountMismatch as exc:
            log.error("configuration error: %s", exc)
            return 2
        _serve(settings)
        return 0
    try:
        asyncio.run(args.run(settings, args))
    except (CommandError, DatabaseUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except DomainError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m gateway",
        description="RushQueue gateway. Settings come from the environment (DATABASE_URL, ...).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("serve", help="run the HTTP gateway on HTTP_HOST:HTTP_PORT")

    admin = commands.add_parser(
        "create-admin",
        help="create an admin account",
        description=f"The password is read from --password, else ${ADMIN_PASSWORD_ENV}, "
        "else prompted for.",
    )
    admin.add_argument("email")
    admin.add_argument("--name", default="Admin")
    admin.add_argument("--password")
    admin.set_defaults(run=_create_admin)

    venue = commands.add_parser(
        "create-venue",
        help="create a venue from a layout file; prints the venue and its id",
        description="Example: devstack/layouts/demo-venue.json. Prints the new venue as JSON; "
        "its id is the venue_id that create-event's file needs.",
    )
    venue.add_argument("--file", type=Path, required=True, help="layout JSON")
    venue.set_defaults(run=_create_venue)

    event = commands.add_parser(
        "create-event",
        help="create an event from a file; its venue_id comes from create-venue's output",
        description="Example: devstack/layouts/demo-event.json. Set its venue_id to the id "
        "create-venue printed. Datetimes are ISO-8601 with a timezone; prices are in minor "
        "units (cents) per category code.",
    )
    event.add_argument("--file", type=Path, required=True, help="event JSON")
    event.add_argument(
        "--no-single-gaps",
        action="store_true",
        help="refuse holds that would leave a single free seat alone (as the file's "
        '"no_single_gaps": true does)',
    )
    event.set_defaults(run=_create_event)

    delete = commands.add_parser(
        "delete-user",
        help="delete an account: anonymise it and refuse its tokens at once",
        description="Refused while the user has active holds. The row stays, anonymised, "
        "because holds, payments and bookings point at it.",
    )
    delete.add_argument("email")
    delete.set_defaults(run=_delete_user)

    _add_waiting_room_command(commands)
    _add_event_settings_command(commands)

    demo = commands.add_parser(
        "load-demo", help="create the demo venue, an event on sale now, and a demo buyer"
    )
    demo.set_defaults(run=_load_demo)
    return parser


def _add_waiting_room_command(commands: argparse._SubParsersAction[Any]) -> None:
    room = commands.add_parser(
        "waiting-room",
        help="show or change an event's waiting room; prints its settings and live figures",
        description="Without options it shows the room. Options change those settings only, "
        "while the sale runs too (in force within about a second); an event without a room "
        "needs --enable or --disable, --opens-at, --rate and --cap to get one.",
    )
    room.add_argument("event_id", type=int, metavar="EVENT_ID")
    switch = room.add_mutually_exclusive_group()
    switch.add_argument("--enable", dest="enabled", action="store_const", const=True)
    switch.add_argument("--disable", dest="enabled", action="store_const", const=False)
    room.add_argument(
        "--opens-at", metavar="ISO", help="when the queue opens, e.g. 2030-05-01T09:00:00Z"
    )
    room.add_argument("--rate", type=int, metavar="N", help="admissions per minute")
    room.add_argument("--cap", type=int, metavar="N", help="most buyers shopping at once")
    room.add_argument(
        "--session-minutes", type=int, metavar="N", help="shopping time per admission"
    )
    admission = room.add_mutually_exclusive_group()
    admission.add_argument("--pause", dest="paused", action="store_const", const=True)
    admission.add_argument("--resume", dest="paused", action="store_const", const=False)
    room.set_defaults(run=_waiting_room)


def _add_event_settings_command(commands: argparse._SubParsersAction[Any]) -> None:
    change = commands.add_parser(
        "event-settings",
        help="change an event's settings, while it is on sale too; prints the event",
        description="Saved, then in force for every hold the engine decides from then on; "
        "holds already made stay.",
    )
    change.add_argument("event_id", type=int, metavar="EVENT_ID")
    gaps = change.add_mutually_exclusive_group(required=True)
    gaps.add_argument(
        "--no-single-gaps",
        dest="no_single_gaps",
        action="store_const",
        const=True,
        help="refuse holds that would leave a single free seat alone",
    )
    gaps.add_argument(
        "--allow-single-gaps",
        dest="no_single_gaps",
        action="store_const",
        const=False,
        help="let holds leave single free seats (the default of a new event)",
    )
    change.set_defaults(run=_event_settings)


async def _check_shard_count(settings: Settings) -> None:
    """Before serving: a gateway on another shard count than the engines would queue an
    event's commands for the wrong actor."""
    redis = connect_redis(settings.redis)
    try:
        await claim_when_reachable(redis, settings.engine.shards, asyncio.Event())
    finally:
        await redis.aclose()


def _serve(settings: Settings) -> None:
    try:
        import uvloop
    except ImportError:
        log.info("uvloop is not installed; using the default event loop")
    else:
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    web.run_app(
        make_app(settings),
        host=settings.http.host,
        port=settings.http.port,
        # Several gateway processes may serve one port; the kernel spreads connections.
        reuse_port=True,
        backlog=settings.http.listen_backlog,
        # SIGTERM stops intake at once; in-flight requests get this long before the loop stops.
        shutdown_timeout=5,
        # aiohttp arms this timer when a connection opens and again after each response, and
        # closes the connection if no whole request head has arrived by then. Bytes trickling in
        # do not push it back, so it is also what ends a slow-loris client. Header lines stay
        # capped at aiohttp's 8190 bytes (max_line_size, max_field_size).
        keepalive_timeout=settings.http.idle_timeout_seconds,
        # aiohttp's own access log is off: ACCESS_LOG=on logs a line per request, with its
        # request id, from gateway.instrumentation instead.
        access_log=None,
        print=log.info,
    )


@asynccontextmanager
async def _database(settings: Settings) -> AsyncIterator[Database]:
    db = await Database.connect(settings.database)
    try:
        yield db
    finally:
        await db.close()


def _read_json(path: Path) -> Any:
    try:
        return orjson.loads(path.read_bytes())
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror}") from None
    except orjson.JSONDecodeError as exc:
        raise CommandError(f"{path} is not valid JSON: {exc}") from None


def _print_json(value: Any) -> None:
    print(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode())


async def _create_venue(settings: Settings, args: argparse.Namespace) -> None:
    layout = _parse(args.file, parse_venue_layout)
    async with _database(settings) as db, db.transaction() as conn:
        venue_id = await create_venue(conn, layout)
        venue = await get_venue(conn, venue_id)
    assert venue is not None  # written in this same transaction
    _print_json({"venue": venue_view(venue)})


async def _create_event(settings: Settings, args: argparse.Namespace) -> None:
    spec = _parse(args.file, parse_event_spec)
    if args.no_single_gaps:
        spec = dataclasses.replace(spec, no_single_gaps=True)
    async with _database(settings) as db, db.transaction() as conn:
        event_id = await create_event(conn, spec)
        detail = await get_event(conn, event_id)
    assert detail is not None  # written in this same transaction
    _print_json({"event": event_detail_view(detail, None)})


def _parse(path: Path, parse: Callable[[Any], T]) -> T:
    try:
        return parse(_read_json(path))
    except DomainError as exc:
        raise CommandError(f"{path}: {exc.message}") from None


async def _create_admin(settings: Settings, args: argparse.Namespace) -> None:
    email: str = args.email.strip()
    if "@" not in email:
        raise CommandError(f"{email!r} is not an email address")
    password = _admin_password(args.password)
    hasher = PasswordHasher.from_profile(settings.argon2_profile, max_workers=1)
    try:
        password_hash = await hasher.hash(password)
    finally:
        hasher.close()
    async with _database(settings) as db, db.transaction() as conn:
        user = await create_user(
            conn, email=email, name=args.name, password_hash=password_hash, role=Role.ADMIN
        )
    print(f"admin {user.id} created: {user.email}")


def _admin_password(given: str | None) -> str:
    password = given or os.environ.get(ADMIN_PASSWORD_ENV)
    if not password:
        if not sys.stdin.isatty():
            raise CommandError(f"no password: pass --password or set {ADMIN_PASSWORD_ENV}")
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            raise CommandError("the passwords differ")
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise CommandError(
            f"the password must be {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters"
        )
    return password


async def _delete_user(settings: Settings, args: argparse.Namespace) -> None:
    redis = connect_redis(settings.redis)
    try:
        async with _database(settings) as db:
            async with db.transaction() as conn:
                user = await find_user_by_email(conn, args.email)
            if user is None:
                raise CommandError(f"no user has the email {args.email!r}")
            # Revoked before the check, so no hold can be made between the check and the
            # anonymising; taken back if the deletion is refused.
            try:
                await revoke_user(redis, user.id, token_ttl_seconds=settings.jwt_ttl_seconds)
            except RedisError as exc:
                raise CommandError(f"cannot revoke the user's tokens, Redis: {exc}") from None
            try:
                async with db.transaction() as conn:
                    holds = await active_hold_count(conn, user.id)
                    if holds:
                        raise CommandError(
                            f"user {user.id} has {holds} active hold(s); release them or let "
                            "them expire, then try again"
                        )
                    await anonymise_user(conn, user.id)
            except BaseException:
                await unrevoke_user(redis, user.id)
                raise
    finally:
        await redis.aclose()
    print(f"user {user.id} deleted: details anonymised, tokens refused")


async def _waiting_room(settings: Settings, args: argparse.Namespace) -> None:
    changes = RoomChanges(
        enabled=args.enabled,
        queue_opens_at_ms=None if args.opens_at is None else parse_opens_at(args.opens_at),
        admissions_per_minute=args.rate,
        max_inside=args.cap,
        session_minutes=args.session_minutes,
        paused=args.paused,
    )
    # One extra connection: the engine client's reply reader holds one for good.
    redis = connect_redis(settings.redis, extra_connections=1)
    try:
        async with _database(settings) as db:
            if changes.empty:
                view = await show_waiting_room(db, redis, settings.engine, args.event_id)
            else:
                async with EngineClient(redis, settings.engine) as engine:
                    view = await change_waiting_room(db, engine, args.event_id, changes)
    except RedisError as exc:
        raise CommandError(f"Redis: {exc}") from None
    finally:
        await redis.aclose()
    _print_json(view)


async def _event_settings(settings: Settings, args: argparse.Namespace) -> None:
    changes = EventSettings(no_single_gaps=args.no_single_gaps)
    # One extra connection: the engine client's reply reader holds one for good.
    redis = connect_redis(settings.redis, extra_connections=1)
    try:
        async with _database(settings) as db, EngineClient(redis, settings.engine) as engine:
            event = await change_event_settings(db, engine, args.event_id, changes)
    except RedisError as exc:
        raise CommandError(f"Redis: {exc}") from None
    finally:
        await redis.aclose()
    _print_json({"event": event})


async def _load_demo(settings: Settings, args: argparse.Namespace) -> None:
    hasher = PasswordHasher.from_profile(settings.argon2_profile, max_workers=1)
    try:
        async with _database(settings) as db:
            info = await load_demo(db, hasher=hasher)
    finally:
        hasher.close()
    print(f"demo event {info.event_id} at venue {info.venue_id}")
    print(f"demo login: {info.email} / {info.password}")
