"""Jobs: the submit form, the list (filters, keyset pages), a job's page and its events."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import PurePath
from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import TypeAdapter, ValidationError
from starlette.datastructures import UploadFile
from starlette.responses import Response, StreamingResponse

from pressroom.billing.plans import plan_now
from pressroom.errors import AppError, InvalidInput
from pressroom.generation.kinds import JobKind, SourceFormat
from pressroom.jobs import events
from pressroom.jobs import service as jobs
from pressroom.jobs.models import ContentArtifact, JobStatus
from pressroom.jobs.schemas import MAX_PRIORITY, JobCreate, JobSubmission
from pressroom.orgs.permissions import Permission
from pressroom.pagination import MAX_CURSOR_LENGTH, PageParams
from pressroom.web.core import Form, Org, WebDb, WebRoute, org_page, redirect, rejected, render

router = APIRouter(route_class=WebRoute)

JobsReader = Annotated[Org, org_page(Permission.JOBS_READ)]
JobsWriter = Annotated[Org, org_page(Permission.JOBS_WRITE)]

LIST_LIMIT = 25
_JOB_CREATE: TypeAdapter[JobSubmission] = TypeAdapter(JobCreate)
UPLOAD_FORMATS = {
    ".md": SourceFormat.MARKDOWN,
    ".html": SourceFormat.HTML,
    ".txt": SourceFormat.TEXT,
}


@router.get("/orgs/{org_id}/jobs")
def job_list(
    request: Request,
    org: JobsReader,
    session: WebDb,
    status: JobStatus | None = None,
    kind: JobKind | None = None,
    after: str | None = None,
) -> Response:
    items, next_after = jobs.list_jobs(
        session,
        org.scope,
        PageParams(limit=LIST_LIMIT, after=after[:MAX_CURSOR_LENGTH] if after else None),
        status=status,
        kind=kind.value if kind else None,
    )
    more = None
    if next_after is not None:
        query = {"status": status.value if status else None, "kind": kind.value if kind else None}
        more = request.url.include_query_params(
            after=next_after, **{k: v for k, v in query.items() if v}
        )
    return render(
        request,
        "jobs.html",
        jobs=items,
        statuses=list(JobStatus),
        kinds=list(JobKind),
        status=status.value if status else "",
        kind=kind.value if kind else "",
        more=str(more) if more else None,
        newest=None if after is None else str(request.url.remove_query_params("after")),
    )


def _new_page(
    request: Request, org: Org, session: WebDb, status: int = 200, **context: Any
) -> Response:
    plan = plan_now(session, org.scope)
    context.setdefault("values", {})
    return render(
        request,
        "job_new.html",
        status,
        kinds=list(JobKind),
        formats=list(SourceFormat),
        allowed=plan.allowed_kinds,
        max_priority=min(plan.max_priority, MAX_PRIORITY),
        idempotency_key=str(uuid.uuid4()),
        **context,
    )


@router.get("/orgs/{org_id}/jobs/new")
def new_job(request: Request, org: JobsWriter, session: WebDb) -> Response:
    return _new_page(request, org, session)


def _source(form: dict[str, Any]) -> tuple[str, str]:
    """The article and its format: an uploaded file wins over the pasted text."""
    upload = form.get("file")
    fmt = str(form.get("format") or SourceFormat.TEXT.value)
    if isinstance(upload, UploadFile) and upload.filename:
        suffix = PurePath(upload.filename).suffix.lower()
        if suffix not in UPLOAD_FORMATS:
            raise _invalid("file", "must be a .md, .html or .txt file")
        try:
            text = upload.file.read().decode("utf-8")
        except UnicodeDecodeError:
            raise _invalid("file", "must be UTF-8 text") from None
        return text, UPLOAD_FORMATS[suffix].value
    return str(form.get("text", "")), fmt


def _invalid(field: str, message: str) -> InvalidInput:
    return InvalidInput(
        f"{field}: {message}", extra={"errors": [{"field": field, "message": message}]}
    )


@router.post("/orgs/{org_id}/jobs")
def submit(request: Request, org: JobsWriter, session: WebDb, form: Form) -> Response:
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    try:
        text, fmt = _source(form)
        job_input: dict[str, Any] = {"text": text, "format": fmt}
        if form.get("title"):
            job_input["title"] = form["title"]
        body = _JOB_CREATE.validate_python(
            {"kind": form.get("kind"), "input": job_input, "priority": form.get("priority") or 0}
        )
        result = jobs.submit(
            session,
            org.scope,
            body,
            created_by=org.access.user.user.id if org.access.user else None,
            idempotency_key=str(form.get("idempotency_key") or "") or None,
        )
    except (AppError, ValidationError) as exc:
        status = exc.status if isinstance(exc, AppError) else 422
        errors = {k.removeprefix("input."): v for k, v in rejected(session, exc).items()}
        return _new_page(request, org, session, status, values=values, errors=errors)
    return redirect(f"/orgs/{org.id}/jobs/{result.job.id}")


@dataclass(frozen=True)
class ArtifactView:
    """An artifact as its page section shows it."""

    artifact: ContentArtifact
    value: Any  # parsed JSON, key-point lines, or the text itself

    @property
    def type(self) -> str:
        return self.artifact.type

    @property
    def meta(self) -> dict[str, Any]:
        return self.artifact.metadata_


def _view(artifact: ContentArtifact) -> ArtifactView:
    content = artifact.content
    if artifact.media_type.startswith("application/json"):
        try:
            return ArtifactView(artifact, json.loads(content))
        except ValueError:
            pass
    if artifact.type == "key_points":
        lines = [line.removeprefix("- ").strip() for line in content.splitlines()]
        return ArtifactView(artifact, [line for line in lines if line])
    return ArtifactView(artifact, content)


def _artifacts(session: WebDb, org: Org, job_id: uuid.UUID) -> dict[str, list[ArtifactView]]:
    grouped: dict[str, list[ArtifactView]] = {}
    for artifact in jobs.list_artifacts(session, org.scope, job_id):
        grouped.setdefault(artifact.type, []).append(_view(artifact))
    return grouped


@router.get("/orgs/{org_id}/jobs/{job_id}")
def job_page(request: Request, job_id: uuid.UUID, org: JobsReader, session: WebDb) -> Response:
    job = jobs.get_job(session, org.scope, job_id)
    return render(
        request,
        "job.html",
        job=job,
        artifacts=_artifacts(session, org, job_id),
        live=job.status not in events.TERMINAL,
    )


@router.get("/orgs/{org_id}/jobs/{job_id}/results")
def job_results(request: Request, job_id: uuid.UUID, org: JobsReader, session: WebDb) -> Response:
    """The job's outcome as a page fragment, for the job page's script to put in place."""
    job = jobs.get_job(session, org.scope, job_id)
    return render(request, "_results.html", job=job, artifacts=_artifacts(session, org, job_id))


@router.get("/orgs/{org_id}/jobs/{job_id}/events")
def job_events(
    request: Request, job_id: uuid.UUID, org: JobsReader, session: WebDb
) -> StreamingResponse:
    """The API's event stream, authorized by the cookie (EventSource sends no header)."""
    jobs.get_job(session, org.scope, job_id)
    body = events.stream(request.app.state.sessionmaker, org.scope, job_id, request.is_disconnected)
    return StreamingResponse(body, media_type=events.MEDIA_TYPE, headers=events.HEADERS)


@router.post("/orgs/{org_id}/jobs/{job_id}/cancel")
def cancel(job_id: uuid.UUID, org: JobsWriter, session: WebDb, form: Form) -> Response:
    jobs.cancel(session, org.scope, job_id)
    return redirect(f"/orgs/{org.id}/jobs/{job_id}")


@router.post("/orgs/{org_id}/jobs/{job_id}/retry")
def retry(job_id: uuid.UUID, org: JobsWriter, session: WebDb, form: Form) -> Response:
    jobs.retry(session, org.scope, job_id)
    return redirect(f"/orgs/{org.id}/jobs/{job_id}")
