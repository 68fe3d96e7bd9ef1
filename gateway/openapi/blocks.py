"""Building blocks shared by the paths and schemas: references, media types, the error
responses every operation may give, and one `operation` builder."""

from __future__ import annotations

from typing import Any, Final

from gateway.openapi.constraints import HOLD_ID_PATTERN, NOT_BLANK, PATH_ID_MAX

Schema = dict[str, Any]


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def json_media(schema: Schema) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def content(description: str, schema: Schema) -> dict[str, Any]:
    return {"description": description, "content": json_media(schema)}


def error(description: str, *, retry_after: bool = False) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description, "content": json_media(ref("Error"))}
    if retry_after:
        response["headers"] = {"Retry-After": {"$ref": "#/components/headers/RetryAfter"}}
    return response


def text(max_length: int) -> Schema:
    """A string the handler strips, then requires non-empty and at most `max_length` long."""
    return {"type": "string", "minLength": 1, "maxLength": max_length, "pattern": NOT_BLANK}


def object_schema(properties: dict[str, Schema], *, required: list[str], extra: bool) -> Schema:
    return {
        "type": "object",
        "required": required,
        "properties": properties,
        "additionalProperties": extra,
    }


def exact(properties: dict[str, Schema]) -> Schema:
    """A response object: every property always present, nothing else."""
    return object_schema(properties, required=list(properties), extra=False)


def integer(low: int, high: int | None = None) -> Schema:
    schema: Schema = {"type": "integer", "minimum": low}
    if high is not None:
        schema["maximum"] = high
    return schema


STRING: Final[Schema] = {"type": "string"}
DATETIME: Final[Schema] = {"type": "string", "format": "date-time"}


def path_id(name: str, what: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": f"The {what}'s id. Anything but 1-18 decimal digits naming one is a 404.",
        "schema": integer(1, PATH_ID_MAX),
    }


HOLD_ID: Final = {
    "name": "id",
    "in": "path",
    "required": True,
    "description": "The hold's id; any other string, or another user's hold, is a 404.",
    "schema": {"type": "string", "pattern": HOLD_ID_PATTERN},
}

PUBLIC: Final[list[dict[str, list[str]]]] = []

UNAUTHORIZED: Final = error(
    "`unauthorized`: no bearer token, or one that is malformed, badly signed or expired, or "
    "whose user has been deleted."
)
FORBIDDEN: Final = error("`forbidden`: the token's user is not an admin.")
TOO_LARGE: Final = error(
    "`payload_too_large`: the body is larger than the server's limit (HTTP_MAX_BODY_BYTES)."
)
BODY_TIMEOUT: Final = error(
    "`request_timeout`: the body did not arrive in full within HTTP_BODY_TIMEOUT_SECONDS."
)
NOT_JSON: Final = error("`unsupported_media_type`: the body is not sent as application/json.")
NOT_ADMITTED: Final = error(
    "`not_admitted`: the event's waiting room is on and the caller has no admission with a "
    "running shopping session (never joined, still waiting, or the session ran out). "
    "`event_id` and `queue_url` (where to join or look) come with it."
)


def rate_limited(limits: str) -> dict[str, Any]:
    return error(
        f"`rate_limited`: too many requests ({limits}; see the RATE_LIMIT_* settings); retry "
        "after `Retry-After` seconds.",
        retry_after=True,
    )


INTERNAL: Final = error(
    "`internal_error`: an unexpected failure on the server's side. The body never carries a "
    "traceback."
)
DEPENDENCY_DOWN: Final = error(
    "`unavailable`: MariaDB or Redis is briefly unreachable (or a more specific code from this "
    "route); retry after `Retry-After` seconds.",
    retry_after=True,
)


def invalid(detail: str) -> dict[str, Any]:
    return error(
        "`malformed_json`: the body is not JSON. `invalid_input`: it is not an object, or "
        f"{detail}; `field` names the offending field."
    )


def request_body(schema_name: str, description: str) -> dict[str, Any]:
    return {"required": True, "description": description, "content": json_media(ref(schema_name))}


def operation(
    operation_id: str,
    tag: str,
    summary: str,
    responses: dict[str, Any],
    *,
    public: bool = False,
    description: str | None = None,
    parameters: list[dict[str, Any]] | None = None,
    body: dict[str, Any] | None = None,
) -> dict[str, Any]:
    operation: dict[str, Any] = {"operationId": operation_id, "tags": [tag], "summary": summary}
    if description is not None:
        operation["description"] = description
    if public:
        operation["security"] = PUBLIC
    if parameters:
        operation["parameters"] = parameters
    if body is not None:
        operation["requestBody"] = body
    # Every route can meet the error middleware's outage and catch-all answers; every route
    # but an open one can meet the guard. An open route ignores a bad token.
    every = {"500": INTERNAL, "503": DEPENDENCY_DOWN}
    if not public:
        every["401"] = UNAUTHORIZED
    merged = {**every, **responses}
    operation["responses"] = {status: merged[status] for status in sorted(merged)}
    return operation
