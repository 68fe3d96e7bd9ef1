"""Who is making the request, as proven by a bearer token."""

from __future__ import annotations

from dataclasses import dataclass

from domain.statuses import Role


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: int
    role: Role

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN
