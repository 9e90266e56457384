from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from pressroom.orgs.models import Role
from pressroom.validation import Name


class OrgCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name


class OrgUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name | None = None


class OrgOut(BaseModel):
    id: uuid.UUID
    name: str
    plan: str = Field(description="The org's plan; 'free' when it has no live subscription.")
    role: Role | None = Field(description="The caller's role (null for an API key).")
    created_at: datetime
    updated_at: datetime


class MemberOut(BaseModel):
    user_id: uuid.UUID
    email: str
    display_name: str | None
    role: Role
    joined_at: datetime


class RoleChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role


class InvitationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr = Field(max_length=254)
    role: Role = Role.MEMBER


class InvitationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    org_id: uuid.UUID
    email: str
    role: Role
    expires_at: datetime
    created_at: datetime


class InvitationCreated(InvitationOut):
    token: str = Field(description="Give this to the invitee; it is shown only now and works once.")


class InvitationAccept(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=1, max_length=256)
