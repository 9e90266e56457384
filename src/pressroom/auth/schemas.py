from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from pressroom.validation import Storable


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Not EmailStr: a malformed address is just a failed login, answered like any other.
    email: Annotated[str, Storable] = Field(min_length=1, max_length=320)
    password: str = Field(min_length=1, max_length=1024)


class RefreshIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    refresh_token: str = Field(min_length=1, max_length=256)


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_in: int = Field(description="Seconds until the access token expires.")


class LogoutOut(BaseModel):
    sessions_ended: int
