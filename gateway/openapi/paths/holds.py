"""Holding seats, reading and releasing a hold."""

from __future__ import annotations

from typing import Any

from gateway.openapi.blocks import (
    BODY_TIMEOUT,
    HOLD_ID,
    NOT_ADMITTED,
    NOT_JSON,
    TOO_LARGE,
    content,
    error,
    invalid,
    operation,
    path_id,
    rate_limited,
    ref,
    request_body,
)
from gateway.openapi.constraints import IDEMPOTENCY_KEY_MAX, IDEMPOTENCY_KEY_PATTERN


def hold_paths() -> dict[str, Any]:
    hold = content("The hold.", ref("HoldEnvelope"))
    engine_down = error(
        "`engine_unavailable`: the seat engine did not decide in time or cannot be reached. "
        "Safe to retry (with the same Idempotency-Key, for a hold).",
        retry_after=True,
    )
    return {
        "/api/v1/events/{id}/holds": {
            "post": operation(
                "createHold",
                "holds",
                "Hold seats for a while",
                {
                    "201": content(
                        "The seats are held until `expires_at`. A retry with the same "
                        "Idempotency-Key gets the first answer again.",
                        ref("HoldEnvelope"),
                    ),
                    "403": NOT_ADMITTED,
                    "404": error("`not_found`: no such event."),
                    "409": error(
                        "`seats_unavailable`: picked seats were taken (`seat_ids` lists them), "
                        "or best-available found none (`reason`: `not_together` or "
                        "`not_enough`, `count`; the message can be shown as it is, e.g. "
                        '"No 4 seats together left in Balcony"); `orphan_seat`: the event '
                        "has `no_single_gaps` and these seats would leave one free seat alone "
                        "(`seat_id`, `section`, `row`, `number` name it); `limit_exceeded` "
                        "(`limit`, `held_or_booked`) or `sale_not_open`."
                    ),
                    "408": BODY_TIMEOUT,
                    "413": TOO_LARGE,
                    "415": NOT_JSON,
                    "422": invalid(
                        "the body has both or neither of `seat_ids` and `best_available`, "
                        "`seat_ids` or `best_available` breaks its rules, `seat_ids` names "
                        "seats of another event (`seat_ids` lists them), `best_available` "
                        "names categories or sections the event does not have, or the "
                        f"Idempotency-Key header is not 1-{IDEMPOTENCY_KEY_MAX} printable "
                        "characters"
                    ),
                    "429": rate_limited("per buyer"),
                    "503": engine_down,
                },
                description=(
                    "The event's own per-buyer limit (`max_seats_per_buyer`) counts the seats "
                    "this buyer already holds or has booked. With `best_available` the seat "
                    "engine chooses the seats in the same decision that holds them, so the "
                    "answer is a hold of seats free at that moment, never a suggestion."
                ),
                parameters=[
                    path_id("id", "event"),
                    {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "required": False,
                        "description": (
                            "Makes a retried request safe: the same key (per user and event) "
                            "gets the same decision instead of a second hold."
                        ),
                        "schema": {
                            "type": "string",
                            "minLength": 1,
                            "maxLength": IDEMPOTENCY_KEY_MAX,
                            "pattern": IDEMPOTENCY_KEY_PATTERN,
                        },
                    },
                ],
                body=request_body("HoldRequest", "Unknown fields are ignored."),
            )
        },
        "/api/v1/holds/{id}": {
            "get": operation(
                "getHold",
                "holds",
                "One of the caller's holds",
                {"200": hold, "404": error("`not_found`: no such hold of the caller's.")},
                parameters=[HOLD_ID],
            ),
            "delete": operation(
                "releaseHold",
                "holds",
                "Give the seats back",
                {
                    "204": {
                        "description": "Released, or had already ended (expired, released "
                        "or booked)."
                    },
                    "404": error("`not_found`: no such hold of the caller's."),
                    "503": engine_down,
                },
                parameters=[HOLD_ID],
            ),
        },
    }
