"""The queue wire format: every command survives encoding, and bad input is refused."""

from __future__ import annotations

import orjson
import pytest

from domain.errors import EngineUnavailable, NotAdmitted, SeatsUnavailable
from domain.waiting_room import QueueState, WaitingRoomSettings
from engine.protocol import (
    BeginCheckoutRequest,
    BestAvailableRequest,
    CancelCheckoutRequest,
    Command,
    ConfigureEventRequest,
    ConfigureQueueRequest,
    ConfirmRequest,
    ExpireRequest,
    HoldRequest,
    JoinQueueRequest,
    LeaveQueueRequest,
    MalformedCommand,
    PlaceView,
    RejectCode,
    ReleaseRequest,
    Reply,
    decode_command,
    encode_command,
    event_of_hold,
    idempotent_command_id,
    may_repeat,
    new_command_id,
    new_hold_id,
)

HOLD = new_hold_id(42)


@pytest.mark.parametrize(
    "command",
    [
        HoldRequest(id="a", reply_to="r", event_id=42, user_id=7, seat_ids=(1, 2)),
        BestAvailableRequest(
            id="l",
            reply_to="r",
            event_id=42,
            user_id=7,
            count=3,
            categories=("A",),
            sections=("Floor", "Balcony"),
            together=False,
        ),
        ReleaseRequest(id="b", reply_to="r", event_id=42, hold_id=HOLD, user_id=7),
        ExpireRequest(id="c", reply_to=None, event_id=42, hold_id=HOLD),
        BeginCheckoutRequest(id="d", reply_to="r", event_id=42, hold_id=HOLD, user_id=7),
        ConfirmRequest(id="e", reply_to="r", event_id=42, hold_id=HOLD, user_id=7, seat_ids=(3,)),
        CancelCheckoutRequest(id="f", reply_to=None, event_id=42, hold_id=HOLD),
        JoinQueueRequest(id="g", reply_to="r", event_id=42, user_id=7),
        LeaveQueueRequest(id="h", reply_to="r", event_id=42, user_id=7),
        ConfigureQueueRequest(
            id="i",
            reply_to="r",
            event_id=42,
            room=WaitingRoomSettings(
                enabled=True,
                queue_opens_at_ms=1,
                admissions_per_minute=600,
                max_inside=50,
                session_seconds=300,
                paused=True,
                version=3,
            ),
        ),
        ConfigureEventRequest(id="j", reply_to="r", event_id=42, no_single_gaps=True),
        ConfigureEventRequest(id="k", reply_to=None, event_id=42, no_single_gaps=False),
    ],
)
def test_every_command_survives_the_queue(command: Command) -> None:
    assert decode_command(encode_command(command)) == command


def test_a_queue_place_and_a_not_admitted_refusal_reach_the_caller() -> None:
    place = PlaceView(
        id="q1",
        event_id=42,
        user_id=7,
        state=QueueState.ADMITTED,
        rank=12,
        joined_at_ms=1,
        admitted_at_ms=2,
        session_expires_at_ms=3,
    )
    assert Reply.decode(Reply(command_id="x", place=place).encode()).place_or_raise() == place
    refused = Reply.reject("y", RejectCode.NOT_ADMITTED, "Queue first", queue_url="/q")
    with pytest.raises(NotAdmitted) as raised:
        Reply.decode(refused.encode()).place_or_raise()
    assert raised.value.details == {"queue_url": "/q"}


def test_the_enqueue_time_and_request_id_travel_only_when_set() -> None:
    bare = HoldRequest(id="a", reply_to="r", event_id=42, user_id=7, seat_ids=(1,))
    assert set(orjson.loads(encode_command(bare))) == {
        "type", "id", "reply_to", "event_id", "user_id", "seat_ids",
    }  # fmt: skip
    assert decode_command(encode_command(bare)).queued_at_ms is None
    stamped = ExpireRequest(
        id="b",
        reply_to=None,
        event_id=42,
        hold_id=HOLD,
        queued_at_ms=1_800_000_000_123,
        request_id="req-1",
    )
    wire = orjson.loads(encode_command(stamped))
    assert (wire["queued_at_ms"], wire["request_id"]) == (1_800_000_000_123, "req-1")
    assert decode_command(encode_command(stamped)) == stamped


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"[]",
        b'{"id": "a", "type": "teleport", "reply_to": null, "event_id": 1}',
        b'{"id": "a", "type": "hold", "reply_to": null, "event_id": "1", "user_id": 1, '
        b'"seat_ids": [1]}',
        b'{"id": "a", "type": "hold", "reply_to": null, "event_id": 1, "user_id": true, '
        b'"seat_ids": [1]}',
        b'{"id": "a", "type": "release", "reply_to": null, "event_id": 1}',
        b'{"id": "a", "type": "expire", "reply_to": null, "event_id": 1, "hold_id": "h", '
        b'"queued_at_ms": "soon"}',
        b'{"id": "a", "type": "expire", "reply_to": null, "event_id": 1, "hold_id": "h", '
        b'"request_id": 7}',
        b'{"id": "a", "type": "configure_event", "reply_to": null, "event_id": 1, '
        b'"no_single_gaps": 1}',
        b'{"id": "a", "type": "configure_event", "reply_to": null, "event_id": 1}',
    ],
)
def test_malformed_commands_are_refused(raw: bytes) -> None:
    with pytest.raises(MalformedCommand):
        decode_command(raw)


def test_hold_ids_name_their_event_and_nothing_else_parses() -> None:
    assert event_of_hold(HOLD) == 42
    assert new_hold_id(42) != HOLD
    for bad in ("", "h42", "h42_short", "x42_" + "0" * 32, "h_" + "0" * 32, HOLD + "0"):
        assert event_of_hold(bad) is None


def test_replies_carry_decisions_and_rejections_to_the_caller() -> None:
    refused = Reply.reject("a", RejectCode.SEATS_UNAVAILABLE, "taken", seat_ids=[3])
    again = Reply.decode(refused.encode())
    assert again == refused
    with pytest.raises(SeatsUnavailable) as raised:
        again.hold_or_raise()
    assert raised.value.details == {"seat_ids": [3]}
    assert not refused.is_transient


def test_a_not_now_refusal_is_transient_and_raises_unavailable() -> None:
    later = Reply.reject("a", RejectCode.UNAVAILABLE, "try later")
    assert later.is_transient
    with pytest.raises(EngineUnavailable):
        later.hold_or_raise()


def test_only_freshly_minted_command_ids_skip_the_stored_decision_lookup() -> None:
    fresh = new_command_id()
    assert fresh != new_command_id()
    assert not may_repeat(fresh)
    keyed = idempotent_command_id("7:3", "buyer-key")
    assert (
        keyed
        == idempotent_command_id("7:3", "buyer-key")
        != idempotent_command_id("7:4", "buyer-key")
    )
    assert may_repeat(keyed)
    assert may_repeat("any-other-id")
