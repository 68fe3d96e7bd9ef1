"""What travels on the shard queues and reply lists.

A command is an orjson object with an `id` (the idempotency key of the decision), a `type`, the
`event_id` that routes it, and `reply_to` (a gateway's reply list, or null for fire-and-forget
senders such as the sweeper). Two optional keys, left off when absent, serve observation only:
`queued_at_ms` (wall-clock milliseconds when the sender pushed it; the engine measures decision
latency from it) and `request_id` (the gateway request behind it, for the engine's log lines).
The actor answers each command once with a `Reply`; the same reply is stored under the command
id so a retry or a lost reply can be answered again.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Final, NotRequired, TypedDict

import orjson

from domain import errors
from domain.statuses import HoldStatus
from domain.waiting_room import QueueState, WaitingRoomSettings

_HOLD_ID: Final = re.compile(r"^h(\d{1,18})_([0-9a-f]{32})$")
# A command id minted by `new_command_id` is random and sent once, so no decision can be stored
# for it yet and the actor skips the lookup. Every other id (one derived from a buyer's
# Idempotency-Key, which a retry sends again) is looked up.
_FRESH_PREFIX: Final = "f"
_IDEMPOTENT_PREFIX: Final = "k"


class CommandType(enum.StrEnum):
    HOLD = "hold"
    HOLD_BEST = "hold_best"
    RELEASE = "release"
    EXPIRE = "expire"
    BEGIN_CHECKOUT = "begin_checkout"
    CONFIRM = "confirm"
    CANCEL_CHECKOUT = "cancel_checkout"
    JOIN_QUEUE = "join_queue"
    LEAVE_QUEUE = "leave_queue"
    CONFIGURE_QUEUE = "configure_queue"
    CONFIGURE_EVENT = "configure_event"


class RejectCode(enum.StrEnum):
    SEATS_UNAVAILABLE = "seats_unavailable"
    LIMIT_EXCEEDED = "limit_exceeded"
    SALE_NOT_OPEN = "sale_not_open"
    UNKNOWN_EVENT = "unknown_event"
    UNKNOWN_SEATS = "unknown_seats"
    UNKNOWN_HOLD = "unknown_hold"
    HOLD_NOT_ACTIVE = "hold_not_active"
    INVALID = "invalid"
    UNAVAILABLE = "unavailable"
    NOT_ADMITTED = "not_admitted"
    NO_WAITING_ROOM = "no_waiting_room"
    QUEUE_NOT_OPEN = "queue_not_open"
    UNKNOWN_PLACE = "unknown_place"
    ORPHAN_SEAT = "orphan_seat"


_REJECTIONS: Final[dict[RejectCode, type[errors.DomainError]]] = {
    RejectCode.SEATS_UNAVAILABLE: errors.SeatsUnavailable,
    RejectCode.LIMIT_EXCEEDED: errors.LimitExceeded,
    RejectCode.SALE_NOT_OPEN: errors.SaleNotOpen,
    RejectCode.UNKNOWN_EVENT: errors.NotFound,
    RejectCode.UNKNOWN_SEATS: errors.InvalidInput,
    RejectCode.UNKNOWN_HOLD: errors.NotFound,
    RejectCode.HOLD_NOT_ACTIVE: errors.HoldNotActive,
    RejectCode.INVALID: errors.InvalidInput,
    RejectCode.UNAVAILABLE: errors.EngineUnavailable,
    RejectCode.NOT_ADMITTED: errors.NotAdmitted,
    RejectCode.NO_WAITING_ROOM: errors.NoWaitingRoom,
    RejectCode.QUEUE_NOT_OPEN: errors.QueueNotOpen,
    RejectCode.UNKNOWN_PLACE: errors.NotFound,
    RejectCode.ORPHAN_SEAT: errors.OrphanSeat,
}


def new_hold_id(event_id: int) -> str:
    """A hold id carries its event so any process can route it to the owning shard; the random
    part makes it unguessable."""
    return f"h{event_id}_{uuid.uuid4().hex}"


def new_command_id() -> str:
    """An id for one submission; resubmitting a command under it is not allowed."""
    return _FRESH_PREFIX + uuid.uuid4().hex


def idempotent_command_id(scope: str, key: str) -> str:
    """The same id for the same buyer's key within `scope`, so a retry is answered with the
    first decision instead of being decided again."""
    return _IDEMPOTENT_PREFIX + hashlib.sha256(f"{scope}:{key}".encode()).hexdigest()[:32]


def may_repeat(command_id: str) -> bool:
    """Whether this id may have been submitted (and decided) before."""
    return not command_id.startswith(_FRESH_PREFIX)


def event_of_hold(hold_id: str) -> int | None:
    match = _HOLD_ID.match(hold_id)
    return int(match.group(1)) if match else None


class CommandWire(TypedDict):
    """A command on a shard queue. `type` names the command; the other keys are its fields."""

    id: str
    type: str
    reply_to: str | None
    event_id: int
    user_id: NotRequired[int]
    hold_id: NotRequired[str]
    seat_ids: NotRequired[list[int]]
    count: NotRequired[int]
    categories: NotRequired[list[str]]
    sections: NotRequired[list[str]]
    together: NotRequired[bool]
    room: NotRequired[WaitingRoomWire]
    no_single_gaps: NotRequired[bool]
    # Set by the sender as it pushes: the decision latency is measured from here.
    queued_at_ms: NotRequired[int]
    # The gateway request that asked, so the engine's log lines about it can be traced back.
    request_id: NotRequired[str]


class WaitingRoomWire(TypedDict):
    """An organizer's waiting-room settings as a configure command carries them."""

    enabled: bool
    queue_opens_at_ms: int
    admissions_per_minute: int
    max_inside: int
    session_seconds: int
    paused: bool
    version: int


class PlaceWire(TypedDict):
    """A buyer's place in an event's queue. `rank` is null in the pre-queue (ranks are drawn
    when the sale starts) and fixed from then on."""

    id: str
    event_id: int
    user_id: int
    state: str
    rank: int | None
    joined_at_ms: int
    admitted_at_ms: int | None
    session_expires_at_ms: int | None


class RoomWire(TypedDict):
    """An event's waiting room as the actor decided it: stored in Redis and published as is, so
    one text tells every waiting buyer how far admission has come."""

    type: str
    event_id: int
    at: int
    enabled: bool
    paused: bool
    queue_opens_at_ms: int
    sale_starts_at_ms: int
    admissions_per_minute: int
    max_inside: int
    session_seconds: int
    version: int
    shuffled: bool
    last_rank: int
    admitted_through: int
    waiting: int
    inside: int
    admitted_total: int
    admitted_last_minute: int
    rate_per_minute: float


class HoldWire(TypedDict):
    id: str
    event_id: int
    user_id: int
    seat_ids: list[int]
    status: str
    expires_at_ms: int
    created_at_ms: int


class RejectionWire(TypedDict):
    code: str
    message: str
    details: dict[str, Any]


class ReplyWire(TypedDict):
    id: str
    ok: bool
    hold: NotRequired[HoldWire]
    place: NotRequired[PlaceWire]
    room: NotRequired[RoomWire]
    error: NotRequired[RejectionWire]


@dataclass(frozen=True, slots=True, kw_only=True)
class HoldRequest:
    TYPE: ClassVar[CommandType] = CommandType.HOLD

    id: str
    reply_to: str | None
    event_id: int
    user_id: int
    seat_ids: tuple[int, ...]
    queued_at_ms: int | None = None
    request_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class BestAvailableRequest:
    """Hold the best `count` free seats the actor finds (engine/seat_index.py), chosen in the
    same turn that holds them. Empty `categories` / `sections` mean any; `together` false lets
    the seats be apart when no `count` adjacent seats are left."""

    TYPE: ClassVar[CommandType] = CommandType.HOLD_BEST

    id: str
    reply_to: str | None
    event_id: int
    user_id: int
    count: int
    categories: tuple[str, ...] = ()
    sections: tuple[str, ...] = ()
    together: bool = True
    queued_at_ms: int | None = None
    request_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ReleaseRequest:
    TYPE: ClassVar[CommandType] = CommandType.RELEASE

    id: str
    reply_to: str | None
    event_id: int
    hold_id: str
    user_id: int
    queued_at_ms: int | None = None
    request_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ExpireRequest:
    TYPE: ClassVar[CommandType] = CommandType.EXPIRE

    id: str
    reply_to: str | None
    event_id: int
    hold_id: str
    queued_at_ms: int | None = None
    request_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class BeginCheckoutRequest:
    """The holder is going to pay: the hold moves to `checkout`."""

    TYPE: ClassVar[CommandType] = CommandType.BEGIN_CHECKOUT

    id: str
    reply_to: str | None
    event_id: int
    hold_id: str
    user_id: int
    queued_at_ms: int | None = None
    request_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfirmRequest:
    """The payment provider says the hold's checkout was paid: book its seats if they can be.

    It names the hold's buyer and seats because the actor may no longer remember a hold that
    ended (expired, then paid in good faith) and must still be able to decide.
    """

    TYPE: ClassVar[CommandType] = CommandType.CONFIRM

    id: str
    reply_to: str | None
    event_id: int
    hold_id: str
    user_id: int
    seat_ids: tuple[int, ...]
    queued_at_ms: int | None = None
    request_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelCheckoutRequest:
    """The checkout ended unpaid (it expired, or an asynchronous payment failed)."""

    TYPE: ClassVar[CommandType] = CommandType.CANCEL_CHECKOUT

    id: str
    reply_to: str | None
    event_id: int
    hold_id: str
    queued_at_ms: int | None = None
    request_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class JoinQueueRequest:
    """A buyer asks for a place in the event's queue (the same place if they have one)."""

    TYPE: ClassVar[CommandType] = CommandType.JOIN_QUEUE

    id: str
    reply_to: str | None
    event_id: int
    user_id: int
    queued_at_ms: int | None = None
    request_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class LeaveQueueRequest:
    """A buyer gives up their place, or ends their shopping session: the slot goes on."""

    TYPE: ClassVar[CommandType] = CommandType.LEAVE_QUEUE

    id: str
    reply_to: str | None
    event_id: int
    user_id: int
    queued_at_ms: int | None = None
    request_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfigureQueueRequest:
    """An organizer's saved waiting-room settings, for the actor to apply from its next tick."""

    TYPE: ClassVar[CommandType] = CommandType.CONFIGURE_QUEUE

    id: str
    reply_to: str | None
    event_id: int
    room: WaitingRoomSettings
    queued_at_ms: int | None = None
    request_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfigureEventRequest:
    """An organizer's saved event settings, in force for the event's next decision. MariaDB
    holds them first, so a reload or a takeover starts from the same values."""

    TYPE: ClassVar[CommandType] = CommandType.CONFIGURE_EVENT

    id: str
    reply_to: str | None
    event_id: int
    no_single_gaps: bool
    queued_at_ms: int | None = None
    request_id: str | None = None


Command = (
    HoldRequest
    | BestAvailableRequest
    | ReleaseRequest
    | ExpireRequest
    | BeginCheckoutRequest
    | ConfirmRequest
    | CancelCheckoutRequest
    | JoinQueueRequest
    | LeaveQueueRequest
    | ConfigureQueueRequest
    | ConfigureEventRequest
)


class MalformedCommand(ValueError):
    """A queue entry that is not a command this engine understands."""


def encode_command(command: Command) -> bytes:
    wire = {"type": command.TYPE.value}
    for name in _FIELDS[type(command)]:
        value = getattr(command, name)
        # Absent optionals stay off the wire: every byte is pushed and read once per command.
        if value is not None or name not in _OPTIONAL:
            wire[name] = value
    # orjson writes a slots dataclass (the configure command's room) as its fields.
    return orjson.dumps(wire)


def decode_command(raw: bytes | str) -> Command:
    try:
        wire = orjson.loads(raw)
        kind = _BY_TYPE[CommandType(wire["type"])]
        return kind(
            **{
                name: _CHECKS[name](wire[name])
                for name in _FIELDS[kind]
                if name in wire or name not in _OPTIONAL
            }
        )
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise MalformedCommand(str(exc)) from exc


def _int(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"expected an integer, got {value!r}")
    return value


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {value!r}")
    return value


def _optional_str(value: Any) -> str | None:
    return None if value is None else _str(value)


def _room(value: Any) -> WaitingRoomSettings:
    if not isinstance(value, dict):
        raise TypeError(f"expected an object, got {value!r}")
    return WaitingRoomSettings(
        enabled=bool(value["enabled"]),
        queue_opens_at_ms=_int(value["queue_opens_at_ms"]),
        admissions_per_minute=_int(value["admissions_per_minute"]),
        max_inside=_int(value["max_inside"]),
        session_seconds=_int(value["session_seconds"]),
        paused=bool(value["paused"]),
        version=_int(value["version"]),
    )


def _int_tuple(value: Any) -> tuple[int, ...]:
    if not isinstance(value, list):
        raise TypeError(f"expected a list, got {value!r}")
    return tuple(_int(item) for item in value)


def _str_tuple(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise TypeError(f"expected a list, got {value!r}")
    return tuple(_str(item) for item in value)


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"expected true or false, got {value!r}")
    return value


_BY_TYPE: Final[dict[CommandType, type[Command]]] = {
    kind.TYPE: kind
    for kind in (
        HoldRequest,
        BestAvailableRequest,
        ReleaseRequest,
        ExpireRequest,
        BeginCheckoutRequest,
        ConfirmRequest,
        CancelCheckoutRequest,
        JoinQueueRequest,
        LeaveQueueRequest,
        ConfigureQueueRequest,
        ConfigureEventRequest,
    )
}
_FIELDS: Final[dict[type[Command], tuple[str, ...]]] = {
    kind: tuple(field.name for field in dataclasses.fields(kind)) for kind in _BY_TYPE.values()
}
# Every command field name has one wire type, whichever command it belongs to.
_CHECKS: Final[dict[str, Callable[[Any], Any]]] = {
    "id": _str,
    "reply_to": _optional_str,
    "event_id": _int,
    "user_id": _int,
    "hold_id": _str,
    "seat_ids": _int_tuple,
    "count": _int,
    "categories": _str_tuple,
    "sections": _str_tuple,
    "together": _bool,
    "room": _room,
    "no_single_gaps": _bool,
    "queued_at_ms": _int,
    "request_id": _str,
}
# Fields a command may leave out (its dataclass default, None, stands in for them).
_OPTIONAL: Final = frozenset({"queued_at_ms", "request_id"})


@dataclass(frozen=True, slots=True, kw_only=True)
class HoldView:
    id: str
    event_id: int
    user_id: int
    seat_ids: tuple[int, ...]
    status: HoldStatus
    expires_at_ms: int
    created_at_ms: int

    def to_wire(self) -> HoldWire:
        return {
            "id": self.id,
            "event_id": self.event_id,
            "user_id": self.user_id,
            "seat_ids": list(self.seat_ids),
            "status": self.status.value,
            "expires_at_ms": self.expires_at_ms,
            "created_at_ms": self.created_at_ms,
        }

    @classmethod
    def from_wire(cls, wire: HoldWire) -> HoldView:
        return cls(
            id=wire["id"],
            event_id=wire["event_id"],
            user_id=wire["user_id"],
            seat_ids=tuple(wire["seat_ids"]),
            status=HoldStatus(wire["status"]),
            expires_at_ms=wire["expires_at_ms"],
            created_at_ms=wire["created_at_ms"],
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class PlaceView:
    id: str
    event_id: int
    user_id: int
    state: QueueState
    rank: int | None
    joined_at_ms: int
    admitted_at_ms: int | None
    session_expires_at_ms: int | None

    def to_wire(self) -> PlaceWire:
        return {
            "id": self.id,
            "event_id": self.event_id,
            "user_id": self.user_id,
            "state": self.state.value,
            "rank": self.rank,
            "joined_at_ms": self.joined_at_ms,
            "admitted_at_ms": self.admitted_at_ms,
            "session_expires_at_ms": self.session_expires_at_ms,
        }

    @classmethod
    def from_wire(cls, wire: PlaceWire) -> PlaceView:
        return cls(
            id=wire["id"],
            event_id=wire["event_id"],
            user_id=wire["user_id"],
            state=QueueState(wire["state"]),
            rank=wire["rank"],
            joined_at_ms=wire["joined_at_ms"],
            admitted_at_ms=wire["admitted_at_ms"],
            session_expires_at_ms=wire["session_expires_at_ms"],
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Rejection:
    code: RejectCode
    message: str
    details: dict[str, Any]

    def to_error(self) -> errors.DomainError:
        return _REJECTIONS[self.code](self.message, **self.details)


@dataclass(frozen=True, slots=True, kw_only=True)
class Reply:
    command_id: str
    hold: HoldView | None = None
    place: PlaceView | None = None
    room: RoomWire | None = None
    rejection: Rejection | None = None

    @property
    def ok(self) -> bool:
        return self.rejection is None

    @property
    def is_transient(self) -> bool:
        """A refusal that says "not now", not "no": a retry must be decided afresh, so it is
        never stored as the command's answer."""
        return self.rejection is not None and self.rejection.code is RejectCode.UNAVAILABLE

    def hold_or_raise(self) -> HoldView:
        """The decided hold, or the rejection raised as a domain error."""
        if self.rejection is not None:
            raise self.rejection.to_error()
        if self.hold is None:
            raise errors.NotFound("No such hold")
        return self.hold

    def place_or_raise(self) -> PlaceView:
        """The buyer's queue place, or the rejection raised as a domain error."""
        if self.rejection is not None:
            raise self.rejection.to_error()
        if self.place is None:
            raise errors.NotFound("No place in this queue")
        return self.place

    def room_or_raise(self) -> RoomWire:
        """The decided waiting room, or the rejection raised as a domain error."""
        if self.rejection is not None:
            raise self.rejection.to_error()
        if self.room is None:
            raise errors.NoWaitingRoom("This event has no waiting room")
        return self.room

    def to_wire(self) -> ReplyWire:
        wire: ReplyWire = {"id": self.command_id, "ok": self.ok}
        if self.hold is not None:
            wire["hold"] = self.hold.to_wire()
        if self.place is not None:
            wire["place"] = self.place.to_wire()
        if self.room is not None:
            wire["room"] = self.room
        if self.rejection is not None:
            wire["error"] = {
                "code": self.rejection.code.value,
                "message": self.rejection.message,
                "details": self.rejection.details,
            }
        return wire

    def encode(self) -> bytes:
        return orjson.dumps(self.to_wire())

    @classmethod
    def decode(cls, raw: bytes | str) -> Reply:
        wire: ReplyWire = orjson.loads(raw)
        error = wire.get("error")
        hold = wire.get("hold")
        place = wire.get("place")
        return cls(
            command_id=wire["id"],
            hold=HoldView.from_wire(hold) if hold is not None else None,
            place=PlaceView.from_wire(place) if place is not None else None,
            room=wire.get("room"),
            rejection=(
                Rejection(
                    code=RejectCode(error["code"]),
                    message=error["message"],
                    details=error["details"],
                )
                if error is not None
                else None
            ),
        )

    @classmethod
    def reject(cls, command_id: str, code: RejectCode, message: str, **details: Any) -> Reply:
        return cls(
            command_id=command_id,
            rejection=Rejection(code=code, message=message, details=details),
        )
