from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from pressroom.validation import Storable
from pressroom.webhooks.security import MAX_URL_LENGTH

EventType = Literal[
    "job.succeeded", "job.failed", "job.canceled", "usage.threshold", "subscription.updated"
]
Url = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_URL_LENGTH),
    Storable,
]
Description = Annotated[str, StringConstraints(max_length=500), Storable]
EventTypes = Annotated[list[EventType], Field(max_length=20)]


class EndpointCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Url
    event_types: EventTypes = Field(default_factory=list, description="Empty: every event.")
    description: Description | None = None
    enabled: bool = True


class EndpointUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Url | None = None
    event_types: EventTypes | None = None
    description: Description | None = None
    enabled: bool | None = None


class EndpointOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    org_id: uuid.UUID
    url: str
    description: str | None
    event_types: list[str]
    enabled: bool
    disabled_reason: str | None
    failing_since: datetime | None
    previous_secret_expires_at: datetime | None
    created_at: datetime
    updated_at: datetime


class EndpointCreated(EndpointOut):
    secret: str = Field(description="The signing secret; shown only in this response.")


class SecretRotated(BaseModel):
    secret: str = Field(description="The new signing secret; shown only in this response.")
    previous_secret_expires_at: datetime = Field(
        description="Until then deliveries carry a signature by the old secret too."
    )


class TestSent(BaseModel):
    delivery_id: uuid.UUID
    event_id: uuid.UUID


class DeliveryAttemptOut(BaseModel):
    id: uuid.UUID
    delivery_id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    attempt: int
    status_code: int | None
    duration_ms: int
    error: str | None
    response_body: str | None
    created_at: datetime
    delivery_status: str = Field(description="pending, delivering, delivered or dead.")
    next_attempt_at: datetime | None = Field(description="When pending: the next try.")


class DeliveryRetried(BaseModel):
    delivery_id: uuid.UUID
    status: str
