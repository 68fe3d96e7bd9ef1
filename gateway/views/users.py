"""Account wire shapes: the user, and the session handed out at signup and login."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypedDict

if TYPE_CHECKING:
    from gateway.auth.tokens import IssuedToken
    from persistence.users import UserRow


class UserView(TypedDict):
    id: int
    email: str
    name: str
    role: str
    created_at: str


class SessionView(TypedDict):
    user: UserView
    token: str
    expires_at: str


def user_view(user: UserRow) -> UserView:
    return {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "role": user.role.value,
        "created_at": user.created_at.isoformat(),
    }


def session_view(user: UserRow, issued: IssuedToken) -> SessionView:
    return {
        "user": user_view(user),
        "token": issued.token,
        "expires_at": issued.expires_at.isoformat(),
    }
