"""The jobs API's request and response bodies."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from pressroom.generation.kinds import JobKind

MAX_PRIORITY = 100


class JobCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: JobKind
    input: dict[str, Any] = Field(
        description="The kind's input: `text` (required), `format`, `title`, `language`, ..."
    )
    priority: int = Field(default=0, ge=0, le=MAX_PRIORITY, description="Higher runs sooner.")


class JobOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    org_id: uuid.UUID
    kind: str
    status: str
    priority: int
    attempts: int
    max_attempts: int
    error: str | None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    cancel_requested_at: datetime | None
    usage: dict[str, Any] | None


class JobDetail(JobOut):
    input: dict[str, Any]


class ArtifactOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    job_id: uuid.UUID
    type: str
    media_type: str
    size_bytes: int
    metadata: dict[str, Any] = Field(validation_alias="metadata_")
    created_at: datetime
    content: str | None = Field(
        default=None, description="Inline for small artifacts; else fetch `content_url`."
    )
    content_url: str
