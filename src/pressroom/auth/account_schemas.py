from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from pressroom.auth.passwords import MAX_PASSWORD_LENGTH
from pressroom.validation import Name


class SignupIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr = Field(max_length=254)
    # Length limits are in the schema; the rest of the policy is checked by the service.
    password: str = Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)
    display_name: Name | None = None


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: str
    display_name: str | None
    email_verified: bool
    created_at: datetime
