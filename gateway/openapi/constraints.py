"""The limits and patterns the handlers check, as the document states them."""

from __future__ import annotations

from typing import Final

from domain.text import invisible_bmp_class

OPENAPI_VERSION: Final = "3.1.0"
API_VERSION: Final = "1.0.0"
INT64_MAX: Final = 2**63 - 1
# `gateway.wire.path_id` takes at most 18 digits; anything longer is a 404.
PATH_ID_MAX: Final = 10**18 - 1

# The limits the handlers check, repeated here because gateway.routes imports this module (and
# some are private to domain.catalog); tests/gateway/test_openapi.py holds them equal.
MAX_EMAIL_LENGTH: Final = 254
MIN_PASSWORD_LENGTH: Final = 8
MAX_PASSWORD_LENGTH: Final = 256
MAX_NAME_LENGTH: Final = 200
MAX_SEATS_PER_HOLD: Final = 50
IDEMPOTENCY_KEY_MAX: Final = 255
MAX_SESSION_ID: Final = 255
VENUE_NAME_MAX: Final = 200
EVENT_NAME_MAX: Final = 200
CATEGORY_CODE_MAX: Final = 32
CATEGORY_NAME_MAX: Final = 100
SECTION_NAME_MAX: Final = 32
ROW_LABEL_MAX: Final = 16
# A best-available request's filters: gateway.routes.holds checks these very constants.
MAX_FILTER_NAMES: Final = 50
MAX_FILTER_NAME_LENGTH: Final = 32  # the longest section name or category code

# Handlers refuse names with nothing visible in them (`domain.text.is_blank`), so "not blank"
# means "has a character outside the invisible class".
NOT_BLANK: Final = f"[^{invisible_bmp_class()}]"

# gateway.routes.auth's email check, over the address as sent: the handler trims and lower-cases
# it first, so upper-case letters are fine here.
_EMAIL_LOCAL: Final = r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}"
_EMAIL_LABEL: Final = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
EMAIL_PATTERN: Final = rf"^{_EMAIL_LOCAL}@{_EMAIL_LABEL}(?:\.{_EMAIL_LABEL})+$"

HOLD_ID_PATTERN: Final = r"^h[0-9]{1,18}_[0-9a-f]{32}$"
# Printable ASCII; HTTP trims a header value's outer spaces, so none are at its ends.
IDEMPOTENCY_KEY_PATTERN: Final = r"^[\u0021-\u007e](?:[\u0020-\u007e]*[\u0021-\u007e])?$"
