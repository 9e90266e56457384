from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from pressroom.api_keys.scopes import ApiKeyScope
from pressroom.validation import Name


def _in_future(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValueError("must include a time zone")
    if value is not None and value <= datetime.now(value.tzinfo):
        raise ValueError("must be in the future")
    return value


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    scopes: list[ApiKeyScope] = Field(min_length=1, max_length=len(ApiKeyScope))
    expires_at: Annotated[datetime | None, AfterValidator(_in_future)] = None


class ApiKeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    prefix: str = Field(description="The key's first characters, to tell keys apart.")
    scopes: list[str]
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The secret. Shown only now: store it safely.")
