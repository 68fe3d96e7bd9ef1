"""One hierarchy for every error a user can cause or meet.

Each class carries its HTTP status and a stable machine-readable code; the gateway's error
middleware is the one place that turns them into the JSON error shape.
"""

from __future__ import annotations

from typing import Any, ClassVar


class DomainError(Exception):
    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class NotAWebsocket(DomainError):
    """A plain request to an address that speaks only websocket."""

    status = 400
    code = "bad_request"


class InvalidInput(DomainError):
    status = 422
    code = "invalid_input"


class MalformedJson(DomainError):
    status = 422
    code = "malformed_json"


class UnsupportedMediaType(DomainError):
    status = 415
    code = "unsupported_media_type"


class RequestTimeout(DomainError):
    """The request body did not arrive in time (a client trickling it byte by byte)."""

    status = 408
    code = "request_timeout"


class NotAuthenticated(DomainError):
    status = 401
    code = "unauthorized"


class InvalidCredentials(DomainError):
    status = 401
    code = "invalid_credentials"


class InvalidSignature(DomainError):
    """A payment provider's webhook whose signature is missing, wrong or too old."""

    status = 400
    code = "invalid_signature"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class NotAdmitted(Forbidden):
    """Holds and checkouts of an event with a waiting room need an admission from its queue."""

    code = "not_admitted"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class EmailTaken(Conflict):
    code = "email_taken"


class SeatsUnavailable(Conflict):
    """Picked seats were taken (`seat_ids`), or a best-available search found none (`reason`:
    `not_together` or `not_enough`, with a message the page can show as it is)."""

    code = "seats_unavailable"


class OrphanSeat(Conflict):
    """The event refuses holds that leave one free seat alone (`no_single_gaps`); the details
    name that seat (`seat_id`, `section`, `row`, `number`) so the buyer can shift by one."""

    code = "orphan_seat"


class LimitExceeded(Conflict):
    code = "limit_exceeded"


class SaleNotOpen(Conflict):
    code = "sale_not_open"


class HoldNotActive(Conflict):
    code = "hold_not_active"


class NoWaitingRoom(Conflict):
    code = "no_waiting_room"


class QueueNotOpen(Conflict):
    code = "queue_not_open"


class RateLimited(DomainError):
    status = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int, **details: Any) -> None:
        super().__init__(message, **details)
        self.retry_after = retry_after


class Unavailable(DomainError):
    """A dependency is down or too slow; the request is safe to retry."""

    status = 503
    code = "unavailable"

    def __init__(self, message: str, *, retry_after: int = 1, **details: Any) -> None:
        super().__init__(message, **details)
        self.retry_after = retry_after


class EngineUnavailable(Unavailable):
    code = "engine_unavailable"


class PaymentProviderUnavailable(Unavailable):
    code = "payment_provider_unavailable"
