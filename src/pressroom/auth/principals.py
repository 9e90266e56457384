"""Who is calling: a user (with an access token) or an organization's API key."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from pressroom.api_keys.models import ApiKey
from pressroom.auth.users import User


@dataclass(frozen=True)
class UserPrincipal:
    user: User
    session_id: uuid.UUID


@dataclass(frozen=True)
class ApiKeyPrincipal:
    api_key: ApiKey

    @property
    def org_id(self) -> uuid.UUID:
        return self.api_key.org_id

    @property
    def scopes(self) -> frozenset[str]:
        return frozenset(self.api_key.scopes)


Principal = UserPrincipal | ApiKeyPrincipal
