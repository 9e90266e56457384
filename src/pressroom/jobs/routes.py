"""HTTP surface of content jobs and their artifacts (thin: parse, authorize, call service)."""

from __future__ import annotations

import uuid
from typing import Annotated

import orjson
from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import PlainTextResponse, StreamingResponse

from pressroom.db.async_pool import PoolTransaction
from pressroom.db.deps import DbSession
from pressroom.errors import Conflict, InvalidInput, NotFound, PaymentRequired, error_responses
from pressroom.jobs import events, service
from pressroom.jobs.models import ContentArtifact, JobStatus
from pressroom.jobs.schemas import ArtifactOut, JobCounts, JobCreate, JobDetail, JobOut
from pressroom.orgs.access import OrgAccess, OrgColumns, PoolAccess, require, require_on_pool
from pressroom.orgs.permissions import Permission
from pressroom.pagination import Page, Pagination

router = APIRouter(prefix="/orgs/{org_id}", tags=["jobs"])

CanReadJobs = Annotated[OrgAccess, require(Permission.JOBS_READ)]
CanWriteJobs = Annotated[OrgAccess, require(Permission.JOBS_WRITE)]
# The hottest reads run on the async pool (pressroom.db.async_pool): no thread hop, no ORM.
ReadsJobsOnPool = Annotated[PoolAccess, require_on_pool(Permission.JOBS_READ)]
SubmitsJobsOnPool = Annotated[
    PoolAccess,
    require_on_pool(
        Permission.JOBS_WRITE, OrgColumns(service.submission_columns, service.submission_params)
    ),
]

# Artifacts up to this size come inline in listings; bigger ones only via content_url.
INLINE_CONTENT_BYTES = 16 * 1024


@router.post(
    "/jobs",
    status_code=202,
    response_model=JobDetail,
    responses=error_responses(InvalidInput, NotFound, PaymentRequired, Conflict),
)
async def submit_job(
    access: SubmitsJobsOnPool,
    conn: PoolTransaction,
    body: JobCreate,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> Response:
    """Queue a job. Takes one unit of this month's quota (402 when none is left).
    Retrying with the same `Idempotency-Key` returns the first job and takes nothing."""
    plan_name, used = access.read
    job, created = await service.submit_on_pool(
        conn,
        access.scope,
        body,
        plan_name=plan_name,
        used=used,
        created_by=access.user_id,
        idempotency_key=idempotency_key,
    )
    headers = {} if created else {"Idempotent-Replayed": "true"}
    body_json = orjson.dumps(job, option=orjson.OPT_UTC_Z)
    return Response(body_json, status_code=202, media_type="application/json", headers=headers)


@router.get("/jobs", response_model=Page[JobOut], responses=error_responses(InvalidInput, NotFound))
async def list_jobs(
    access: ReadsJobsOnPool,
    conn: PoolTransaction,
    page: Pagination,
    status: JobStatus | None = None,
    kind: Annotated[str | None, Query(max_length=50)] = None,
) -> Response:
    """Newest first. Follow `next_cursor` for older pages; every page costs the same."""
    rows, cursor = await service.list_job_rows(conn, access.scope, page, status=status, kind=kind)
    # Rows straight to JSON (response_model still documents the shape): the columns are
    # JobOut's fields, typed by the table, so validating each one again would prove nothing.
    items = [dict(zip(service.LISTED_FIELDS, row, strict=True)) for row in rows]
    body = orjson.dumps({"items": items, "next_cursor": cursor}, option=orjson.OPT_UTC_Z)
    return Response(body, media_type="application/json")


# Declared before /jobs/{job_id}, which would otherwise take "counts" for a job id.
@router.get("/jobs/counts", response_model=JobCounts, responses=error_responses(NotFound))
async def count_jobs(access: ReadsJobsOnPool, conn: PoolTransaction) -> Response:
    """The org's jobs by status, as of now. Authorized like listing jobs."""
    return Response(orjson.dumps(await service.count_by_status(conn, access.scope)),
                    media_type="application/json")  # fmt: skip


@router.get("/jobs/{job_id}", response_model=JobDetail, responses=error_responses(NotFound))
def get_job(access: CanReadJobs, session: DbSession, job_id: uuid.UUID) -> JobDetail:
    return JobDetail.model_validate(service.get_job(session, access.scope, job_id))


@router.get(
    "/jobs/{job_id}/events",
    response_class=StreamingResponse,
    responses={**error_responses(NotFound), 200: {"content": {events.MEDIA_TYPE: {}}}},
)
def job_events(
    access: CanReadJobs, session: DbSession, request: Request, job_id: uuid.UUID
) -> StreamingResponse:
    """Server-Sent Events: `status` at once and on every change, then `outcome`, then the
    stream ends (docs/jobs.md). Authorized like reading the job."""
    service.get_job(session, access.scope, job_id)
    # The stream outlives the request's transaction: end it now (an API key's last use is
    # kept) and give its connection back; the stream polls on short sessions of its own.
    session.commit()
    session.close()
    body = events.stream(
        request.app.state.sessionmaker, access.scope, job_id, request.is_disconnected
    )
    return StreamingResponse(body, media_type=events.MEDIA_TYPE, headers=events.HEADERS)


@router.post(
    "/jobs/{job_id}/cancel", response_model=JobOut, responses=error_responses(NotFound, Conflict)
)
def cancel_job(access: CanWriteJobs, session: DbSession, job_id: uuid.UUID) -> JobOut:
    """Queued: canceled now (its quota unit is given back). Running: cancel requested."""
    return JobOut.model_validate(service.cancel(session, access.scope, job_id))


@router.post(
    "/jobs/{job_id}/retry",
    status_code=202,
    response_model=JobOut,
    responses=error_responses(NotFound, Conflict, PaymentRequired),
)
def retry_job(access: CanWriteJobs, session: DbSession, job_id: uuid.UUID) -> JobOut:
    """Run a failed job again (takes a new unit of quota)."""
    return JobOut.model_validate(service.retry(session, access.scope, job_id))


def _artifact_out(request: Request, org_id: uuid.UUID, a: ContentArtifact) -> ArtifactOut:
    url = request.url_for("get_artifact_content", org_id=org_id, artifact_id=a.id)
    return ArtifactOut.model_validate(
        {
            **{
                k: getattr(a, k)
                for k in ("id", "job_id", "type", "media_type", "size_bytes", "created_at")
            },
            "metadata_": a.metadata_,
            "content": a.content if a.size_bytes <= INLINE_CONTENT_BYTES else None,
            "content_url": url.path,
        }
    )


@router.get(
    "/jobs/{job_id}/artifacts",
    response_model=list[ArtifactOut],
    responses=error_responses(NotFound),
)
def list_artifacts(
    access: CanReadJobs,
    session: DbSession,
    request: Request,
    job_id: uuid.UUID,
    type: Annotated[str | None, Query(max_length=50)] = None,
) -> list[ArtifactOut]:
    artifacts = service.list_artifacts(session, access.scope, job_id, type=type)
    return [_artifact_out(request, access.org_id, a) for a in artifacts]


@router.get(
    "/artifacts/{artifact_id}/content",
    response_class=PlainTextResponse,
    responses={**error_responses(NotFound), 200: {"content": {"text/plain": {}}}},
)
def get_artifact_content(
    access: CanReadJobs, session: DbSession, artifact_id: uuid.UUID
) -> Response:
    """The artifact itself, served with its media type."""
    artifact = service.get_artifact(session, access.scope, artifact_id)
    return Response(
        artifact.content,
        media_type=artifact.media_type,
        headers={"X-Content-Type-Options": "nosniff"},
    )
