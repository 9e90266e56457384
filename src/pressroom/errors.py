"""One error type for the whole API, rendered as RFC 9457 application/problem+json.

Raise `AppError` subclasses from services and dependencies; `install_error_handlers`
turns them (and FastAPI's own validation/HTTP errors) into problem documents with a
stable machine-readable `code`.
"""

from __future__ import annotations

from typing import Any, ClassVar

import psycopg
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PROBLEM_JSON = "application/problem+json"

log = structlog.get_logger(__name__)


class Problem(BaseModel):
    """The error body of every non-2xx answer."""

    type: str
    title: str
    status: int
    code: str
    detail: str
    errors: list[dict[str, Any]] | None = None


class AppError(Exception):
    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    title: ClassVar[str] = "Bad request"

    def __init__(
        self,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra or {}


class NotFound(AppError):
    status, code, title = 404, "not_found", "Not found"


class Unauthorized(AppError):
    status, code, title = 401, "unauthorized", "Unauthorized"


class Forbidden(AppError):
    status, code, title = 403, "forbidden", "Forbidden"


class Conflict(AppError):
    status, code, title = 409, "conflict", "Conflict"


class InvalidInput(AppError):
    status, code, title = 422, "invalid_input", "Invalid input"


class PaymentRequired(AppError):
    status, code, title = 402, "quota_exceeded", "Payment required"


class TooManyRequests(AppError):
    status, code, title = 429, "rate_limited", "Too many requests"


class ServiceUnavailable(AppError):
    status, code, title = 503, "unavailable", "Service unavailable"


# Seconds a client is asked to wait before retrying when the database is unreachable: about
# what a restart or a failover takes, and the pool reconnects on the next checkout.
DATABASE_RETRY_AFTER_SECONDS = 2


class DatabaseUnavailable(ServiceUnavailable):
    code, title = "database_unavailable", "Database unavailable"

    def __init__(self, detail: str = "the database is unavailable; retry shortly") -> None:
        super().__init__(detail, headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)})


# SQLSTATE classes that mean "the database can't serve us now", not "this request is wrong":
# connection exceptions, insufficient resources (disk full, too many connections), operator
# intervention (shutdown, crash recovery), system errors.
_UNAVAILABLE_SQLSTATE_CLASSES = ("08", "53", "57P", "58")


def database_unavailable(exc: BaseException) -> bool:
    """True if `exc` says the database is unreachable or refusing work (answer 503)."""
    if isinstance(exc, sa_exc.TimeoutError):  # no pooled connection came free in time
        return True
    if isinstance(exc, sa_exc.DBAPIError):
        if exc.connection_invalidated:
            return True
        exc = exc.orig if exc.orig is not None else exc
    if not isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
        return False
    sqlstate = getattr(exc, "sqlstate", None)
    return sqlstate is None or sqlstate.startswith(_UNAVAILABLE_SQLSTATE_CLASSES)


def problem_response(
    status: int,
    code: str,
    title: str,
    detail: str,
    *,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"https://pressroom.dev/problems/{code}",
        "title": title,
        "status": status,
        "code": code,
        "detail": detail,
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    # ("body", "input", "text") -> "input.text"; the location kind is in `in`.
    return ".".join(str(part) for part in loc[1:]) or str(loc[0])


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    return [
        {"field": _field_path(err["loc"]), "in": err["loc"][0], "message": err["msg"]}
        for err in exc.errors()
    ]


def problem_for(exc: AppError) -> JSONResponse:
    return problem_response(
        exc.status, exc.code, exc.title, exc.detail, headers=exc.headers, **exc.extra
    )


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(_: Request, exc: AppError) -> JSONResponse:
        return problem_for(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        if any(err.get("type") == "json_invalid" for err in exc.errors()):
            # Not a field's fault: the body as a whole is not JSON (docs/api.md, Errors).
            return problem_response(
                400, "malformed_request", "Malformed request", "The body is not valid JSON."
            )
        errors = _validation_errors(exc)
        first = errors[0] if errors else {"field": "body", "message": "invalid"}
        return problem_response(
            422,
            "invalid_input",
            "Invalid input",
            f"{first['field']}: {first['message']}",
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {
            400: "malformed_request",
            404: "not_found",
            405: "method_not_allowed",
            413: "payload_too_large",
        }.get(exc.status_code, "http_error")
        return problem_response(
            exc.status_code,
            code,
            str(exc.detail),
            str(exc.detail),
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        return unexpected_error_response(exc)


def unexpected_error_response(exc: BaseException) -> JSONResponse:
    """503 `database_unavailable` if the database is away, else 500 `internal_error`."""
    if database_unavailable(exc):
        log.warning("database_unavailable", error=str(exc).strip().splitlines()[0])
        return problem_for(DatabaseUnavailable())
    log.error("unhandled_error", exc_info=exc)
    return problem_response(
        500, "internal_error", "Internal error", "An unexpected error occurred."
    )


class UnhandledErrorMiddleware:
    """Answers an exception no handler took (a database error, a failed COMMIT, a bug) with
    a problem document, and swallows it.

    Starlette's own last resort answers too but then re-raises, and Uvicorn closes the
    connection on an exception: a client that already sent its next request on that
    keep-alive connection sees a reset. Here the answer is complete and the connection
    stays usable. An exception after the response started can only be re-raised.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if started:
                raise
            await unexpected_error_response(exc)(scope, receive, send)


def error_responses(*errors: type[AppError]) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route, so its errors appear in the OpenAPI document."""
    return {
        err.status: {
            "model": Problem,
            "description": err.title,
            "content": {PROBLEM_JSON: {}},
        }
        for err in errors
    }
