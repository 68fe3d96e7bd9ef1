"""HS256 bearer tokens: issued at signup and login, checked by the guard on every request.

The accepted algorithm is pinned to HS256, so a token cannot choose how it is verified: one
claiming `alg: none`, or RS256 in the hope that the shared secret is used as a public key, is
refused before its signature is looked at.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import jwt

from domain.errors import NotAuthenticated
from domain.statuses import Role
from gateway.auth.principal import Principal

ALGORITHM: Final = "HS256"
REQUIRED_CLAIMS: Final = ("sub", "role", "iat", "exp")

# Gateway instances on different hosts disagree on the time by a little; without a margin a
# token issued by one could be "not yet valid" on another for the first second of its life.
CLOCK_SKEW_SECONDS: Final = 5
# Verified tokens remembered per process: a rush's buyers each send many requests with one token.
_VERIFIED_CACHE_SIZE: Final = 50_000


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    expires_at: datetime


class TokenCodec:
    def __init__(self, secret: str, *, ttl_seconds: int) -> None:
        if ttl_seconds <= 0:
            raise ValueError("ttl_seconds must be greater than zero")
        self._secret = secret
        self._ttl_seconds = ttl_seconds
        # token -> (principal, exp). A signature checked once stays good; only time can end it.
        self._verified: dict[str, tuple[Principal, int]] = {}

    def issue(self, user_id: int, role: Role) -> IssuedToken:
        # JWT times are whole seconds; computing in whole seconds makes `expires_at` exactly `exp`.
        issued_at = int(time.time())
        expires_at = issued_at + self._ttl_seconds
        claims = {"sub": str(user_id), "role": role.value, "iat": issued_at, "exp": expires_at}
        token = jwt.encode(claims, self._secret, algorithm=ALGORITHM)
        return IssuedToken(token=token, expires_at=datetime.fromtimestamp(expires_at, UTC))

    def decode(self, token: str) -> Principal:
        """The principal a token proves, or `NotAuthenticated` saying what is wrong with it.

        A token verified before is not verified again until it expires: under a rush, checking
        the same HMAC and claims on every request was a twentieth of the gateway's CPU."""
        cached = self._verified.get(token)
        if cached is not None:
            principal, expires_at = cached
            if time.time() < expires_at + CLOCK_SKEW_SECONDS:
                return principal
            del self._verified[token]
        claims = self._verified_claims(token)
        principal = self._principal(claims)
        if len(self._verified) >= _VERIFIED_CACHE_SIZE:
            del self._verified[next(iter(self._verified))]  # the longest remembered
        self._verified[token] = (principal, int(claims["exp"]))
        return principal

    @staticmethod
    def _principal(claims: dict[str, Any]) -> Principal:
        sub = claims["sub"]
        if not (isinstance(sub, str) and sub.isdigit() and sub.isascii() and int(sub) > 0):
            raise NotAuthenticated("The token's subject is not a user id")
        try:
            role = Role(claims["role"])
        except ValueError:
            raise NotAuthenticated("The token's role is not one we know") from None
        return Principal(user_id=int(sub), role=role)

    def _verified_claims(self, token: str) -> dict[str, Any]:
        try:
            return jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                options={"require": list(REQUIRED_CLAIMS)},
                leeway=CLOCK_SKEW_SECONDS,
            )
        except jwt.InvalidAlgorithmError:
            raise NotAuthenticated(f"The token must be signed with {ALGORITHM}") from None
        except jwt.InvalidSignatureError:
            raise NotAuthenticated("The token's signature is invalid") from None
        except jwt.ExpiredSignatureError:
            raise NotAuthenticated("The token has expired; log in again") from None
        except jwt.ImmatureSignatureError:
            raise NotAuthenticated("The token is not valid yet") from None
        except jwt.MissingRequiredClaimError as exc:
            raise NotAuthenticated(f"The token has no '{exc.claim}' claim") from None
        except jwt.DecodeError:
            raise NotAuthenticated("The token is malformed") from None
        except jwt.InvalidTokenError:
            raise NotAuthenticated("The token is invalid") from None
