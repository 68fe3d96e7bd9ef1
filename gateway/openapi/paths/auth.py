"""Signup, login and the caller's account."""

from __future__ import annotations

from typing import Any

from gateway.openapi.blocks import (
    BODY_TIMEOUT,
    NOT_JSON,
    TOO_LARGE,
    content,
    error,
    invalid,
    operation,
    rate_limited,
    ref,
    request_body,
)


def auth_paths() -> dict[str, Any]:
    session = content("The account and a bearer token for it.", ref("Session"))
    return {
        "/api/v1/auth/signup": {
            "post": operation(
                "signup",
                "auth",
                "Create a buyer account and log in",
                {
                    "201": session,
                    "409": error("`email_taken`: an account with this email already exists."),
                    "408": BODY_TIMEOUT,
                    "413": TOO_LARGE,
                    "415": NOT_JSON,
                    "422": invalid("a field is missing, of the wrong type or out of range"),
                    "429": rate_limited("per client IP, and per email and IP"),
                },
                public=True,
                body=request_body("SignupRequest", "Unknown fields are ignored."),
            )
        },
        "/api/v1/auth/login": {
            "post": operation(
                "login",
                "auth",
                "Exchange an email and password for a bearer token",
                {
                    "200": session,
                    "401": error(
                        "`invalid_credentials`: the email or password is wrong (the same for "
                        "an unknown email); `unauthorized`: a bad bearer token was sent along."
                    ),
                    "408": BODY_TIMEOUT,
                    "413": TOO_LARGE,
                    "415": NOT_JSON,
                    "422": invalid("`email` or `password` is missing or not a string"),
                    "429": rate_limited("per client IP, and per email and IP"),
                },
                public=True,
                body=request_body("LoginRequest", "Unknown fields are ignored."),
            )
        },
        "/api/v1/me": {
            "get": operation(
                "me",
                "auth",
                "The account the token belongs to",
                {"200": content("The account.", ref("UserEnvelope"))},
                description="401 also when the token's account no longer exists.",
            )
        },
    }
