"""The jobs API's request and response bodies."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
)
from pydantic_core import InitErrorDetails

from pressroom.generation.kinds import (
    FullPackJob,
    JobKind,
    KeyPointsJob,
    SeoJob,
    SocialPostsJob,
    SummaryJob,
)

MAX_PRIORITY = 100


class _Submission(BaseModel):
    model_config = ConfigDict(extra="forbid")

    priority: int = Field(default=0, ge=0, le=MAX_PRIORITY, description="Higher runs sooner.")


# One body per kind, each with that kind's input fields (generation/kinds.py owns them), so
# OpenAPI shows a oneOf discriminated by `kind` and FastAPI validates the input in one step.
class SummaryJobCreate(_Submission, SummaryJob):
    pass


class KeyPointsJobCreate(_Submission, KeyPointsJob):
    pass


class SeoJobCreate(_Submission, SeoJob):
    pass


class SocialPostsJobCreate(_Submission, SocialPostsJob):
    pass


class FullPackJobCreate(_Submission, FullPackJob):
    pass


JobSubmission = (
    SummaryJobCreate | KeyPointsJobCreate | SeoJobCreate | SocialPostsJobCreate | FullPackJobCreate
)


def _errors_without_the_tag(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    """Pydantic puts the kind in each error's location (`summary.input.text`); clients know
    the field as `input.text`, and an unknown or missing kind as `kind`."""
    try:
        return handler(value)
    except ValidationError as exc:
        errors: list[InitErrorDetails] = []
        for err in exc.errors(include_url=False):
            loc = err["loc"]
            if err["type"] in ("union_tag_invalid", "union_tag_not_found"):
                loc = ("kind",)
            elif loc and loc[0] in _KIND_VALUES:
                loc = loc[1:]
            detail: InitErrorDetails = {"type": err["type"], "loc": loc, "input": err["input"]}
            if "ctx" in err:
                detail["ctx"] = err["ctx"]
            errors.append(detail)
        raise ValidationError.from_exception_data(exc.title, errors) from None


_KIND_VALUES = frozenset(JobKind)

JobCreate = Annotated[JobSubmission, Discriminator("kind"), WrapValidator(_errors_without_the_tag)]
"""The body of POST /jobs: `{"kind", "input", "priority"}`, `input` typed by `kind`."""


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


class JobCounts(BaseModel):
    """How many of the org's jobs are in each status right now (every status present)."""

    queued: int
    running: int
    succeeded: int
    failed: int
    canceled: int
    total: int


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
