from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime
from typing import Any, Final

import jwt
import pytest

from domain.errors import NotAuthenticated
from domain.statuses import Role
from gateway.auth.principal import Principal
from gateway.auth.tokens import TokenCodec

SECRET: Final = "test-secret-long-enough-for-hs256-and-for-hs512-too-0123456789abcdef"
OTHER_SECRET: Final = "another-secret-that-is-long-enough-for-hs256-987654"


@pytest.fixture
def codec() -> TokenCodec:
    return TokenCodec(SECRET, ttl_seconds=900)


def claims(**overrides: Any) -> dict[str, Any]:
    """Valid claims for user 7; an override of None drops the claim."""
    now = int(time.time())
    base: dict[str, Any] = {"sub": "7", "role": "buyer", "iat": now, "exp": now + 900}
    base.update(overrides)
    return {name: value for name, value in base.items() if value is not None}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def refused(codec: TokenCodec, token: str) -> str:
    with pytest.raises(NotAuthenticated) as caught:
        codec.decode(token)
    assert caught.value.status == 401
    return caught.value.message


@pytest.mark.parametrize("role", list(Role))
def test_an_issued_token_decodes_to_its_user_and_role(codec: TokenCodec, role: Role) -> None:
    issued = codec.issue(42, role)

    assert codec.decode(issued.token) == Principal(user_id=42, role=role)


def test_an_issued_token_carries_the_expected_claims(codec: TokenCodec) -> None:
    before = int(time.time())
    issued = codec.issue(42, Role.ADMIN)
    after = int(time.time())

    header = jwt.get_unverified_header(issued.token)
    payload = jwt.decode(issued.token, SECRET, algorithms=["HS256"])
    assert header["alg"] == "HS256"
    assert payload["sub"] == "42"
    assert payload["role"] == "admin"
    assert before <= payload["iat"] <= after
    assert payload["exp"] - payload["iat"] == 900
    assert issued.expires_at == datetime.fromtimestamp(payload["exp"], UTC)
    assert issued.expires_at.tzinfo is UTC


def test_a_token_signed_with_another_secret_is_refused(codec: TokenCodec) -> None:
    forged = jwt.encode(claims(), OTHER_SECRET, algorithm="HS256")

    assert refused(codec, forged) == "The token's signature is invalid"


def test_a_token_whose_payload_was_edited_is_refused(codec: TokenCodec) -> None:
    header, _, signature = codec.issue(7, Role.BUYER).token.split(".")
    promoted = b64url(json.dumps(claims(role="admin")).encode())

    assert refused(codec, f"{header}.{promoted}.{signature}") == "The token's signature is invalid"


def test_an_unsigned_alg_none_token_is_refused(codec: TokenCodec) -> None:
    unsigned = jwt.encode(claims(role="admin"), None, algorithm="none")

    assert refused(codec, unsigned) == "The token must be signed with HS256"


def test_an_rs256_header_is_refused_before_the_signature_is_checked(codec: TokenCodec) -> None:
    header = b64url(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
    payload = b64url(json.dumps(claims()).encode())
    token = f"{header}.{payload}.{b64url(b'not-an-rsa-signature')}"

    assert refused(codec, token) == "The token must be signed with HS256"


def test_another_hmac_algorithm_with_the_right_secret_is_refused(codec: TokenCodec) -> None:
    token = jwt.encode(claims(), SECRET, algorithm="HS512")

    assert refused(codec, token) == "The token must be signed with HS256"


def test_an_expired_token_is_refused(codec: TokenCodec) -> None:
    now = int(time.time())
    expired = jwt.encode(claims(iat=now - 3600, exp=now - 60), SECRET, algorithm="HS256")

    assert refused(codec, expired) == "The token has expired; log in again"


@pytest.mark.parametrize("claim", ["iat", "nbf"])
def test_a_token_from_the_future_is_refused(codec: TokenCodec, claim: str) -> None:
    later = int(time.time()) + 600
    token = jwt.encode(claims(**{claim: later}), SECRET, algorithm="HS256")

    assert refused(codec, token) == "The token is not valid yet"


def test_a_few_seconds_of_clock_skew_is_tolerated(codec: TokenCodec) -> None:
    slightly_ahead = int(time.time()) + 2
    token = jwt.encode(claims(iat=slightly_ahead), SECRET, algorithm="HS256")

    assert codec.decode(token) == Principal(user_id=7, role=Role.BUYER)


@pytest.mark.parametrize("claim", ["sub", "role", "iat", "exp"])
def test_a_token_missing_a_required_claim_is_refused(codec: TokenCodec, claim: str) -> None:
    token = jwt.encode(claims(**{claim: None}), SECRET, algorithm="HS256")

    assert refused(codec, token) == f"The token has no '{claim}' claim"


@pytest.mark.parametrize("token", ["", "garbage", "a.b.c", "a.b", "é.é.é"])
def test_a_malformed_token_is_refused(codec: TokenCodec, token: str) -> None:
    assert refused(codec, token) == "The token is malformed"


@pytest.mark.parametrize("sub", ["abc", "0", "-3", "7.5", "²"])
def test_a_subject_that_is_not_a_user_id_is_refused(codec: TokenCodec, sub: str) -> None:
    token = jwt.encode(claims(sub=sub), SECRET, algorithm="HS256")

    assert refused(codec, token) == "The token's subject is not a user id"


def test_a_non_string_subject_is_refused(codec: TokenCodec) -> None:
    token = jwt.encode(claims(sub=7), SECRET, algorithm="HS256")

    assert refused(codec, token) == "The token is invalid"


def test_an_unknown_role_is_refused(codec: TokenCodec) -> None:
    token = jwt.encode(claims(role="superuser"), SECRET, algorithm="HS256")

    assert refused(codec, token) == "The token's role is not one we know"


def test_a_lifetime_must_be_positive() -> None:
    with pytest.raises(ValueError, match="ttl_seconds"):
        TokenCodec(SECRET, ttl_seconds=0)


# -- verified tokens are remembered until they expire --------------------------------------


def test_a_verified_token_is_not_verified_again(
    codec: TokenCodec, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = codec.issue(7, Role.BUYER).token
    first = codec.decode(token)

    def verify_again(*args: object, **kwargs: object) -> dict[str, Any]:
        raise AssertionError("a remembered token was verified again")

    monkeypatch.setattr(jwt, "decode", verify_again)
    assert codec.decode(token) == first == Principal(user_id=7, role=Role.BUYER)


def test_a_remembered_token_is_verified_afresh_once_it_has_expired(
    codec: TokenCodec, monkeypatch: pytest.MonkeyPatch
) -> None:
    issued = codec.issue(7, Role.BUYER)
    codec.decode(issued.token)
    later = issued.expires_at.timestamp() + 60
    monkeypatch.setattr("gateway.auth.tokens.time.time", lambda: later)

    def expired(*args: object, **kwargs: object) -> dict[str, Any]:
        raise jwt.ExpiredSignatureError

    monkeypatch.setattr(jwt, "decode", expired)
    assert "expired" in refused(codec, issued.token)


def test_a_refused_token_is_not_remembered(codec: TokenCodec) -> None:
    forged = jwt.encode(claims(), OTHER_SECRET, algorithm="HS256")
    refused(codec, forged)
    assert "signature" in refused(codec, forged)
