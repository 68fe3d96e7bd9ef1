"""Command ids from a caller's `Idempotency-Key`: a retried request gets the first decision.

The key is scoped (to the buyer, the event and the kind of request), so the same key sent for a
hold and for a queue join names two decisions, never one answer for both.
"""

from __future__ import annotations

from typing import Final

from aiohttp import web

from domain.errors import InvalidInput
from engine.protocol import idempotent_command_id, new_command_id

MAX_KEY_LENGTH: Final = 255


def command_id(request: web.Request, scope: str) -> str:
    """The decision's id: derived from the request's Idempotency-Key within `scope`, or fresh
    when it sends none."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return new_command_id()
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise InvalidInput(
            f"Idempotency-Key must be 1-{MAX_KEY_LENGTH} printable characters",
            field="Idempotency-Key",
        )
    return idempotent_command_id(scope, key)
