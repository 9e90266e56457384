"""JSON logs (structlog), a request id per request, one access-log line per request.

Secrets never reach a log line: we never log bodies, headers or query strings, and the
`redact_secrets` processor blanks any event field whose name looks like a credential, as a
second wall against a careless `log.info(..., password=...)`.
"""

from __future__ import annotations

import logging
import re
import sys
import time
import uuid
from collections.abc import MutableMapping
from functools import lru_cache
from typing import Any

import orjson
import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = "x-request-id"
# A client-supplied id is echoed only if it is short and plain (no log injection).
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_SECRET_FIELD = re.compile(
    r"pass(word)?|secret|token|authorization|api_?key|cookie|credential", re.IGNORECASE
)
REDACTED = "[redacted]"
_HANDLER_NAME = "pressroom-json"

access_log = structlog.get_logger("pressroom.access")


@lru_cache(maxsize=1024)
def _is_secret_field(key: str) -> bool:
    # Field names repeat (every access line has the same ones): match each name once.
    return key != "event" and _SECRET_FIELD.search(key) is not None


def redact_secrets(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key in list(event_dict):
        if isinstance(key, str) and _is_secret_field(key):
            event_dict[key] = REDACTED
    return event_dict


def _json_dumps(obj: Any, **_kw: Any) -> str:
    # orjson: several times faster than json.dumps on every log line; anything it cannot
    # encode natively is rendered with str(), as structlog's default does with repr.
    return orjson.dumps(obj, default=str, option=orjson.OPT_NON_STR_KEYS).decode()


def _shared_processors() -> list[Any]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact_secrets,
    ]


def json_formatter(*, human: bool = False) -> logging.Formatter:
    """The formatter every handler uses: one JSON object per line, or (`human`) one
    readable line per event, for a person at a terminal."""
    renderer: Any = (
        structlog.dev.ConsoleRenderer(exception_formatter=structlog.dev.plain_traceback)
        if human
        else structlog.processors.JSONRenderer(serializer=_json_dumps)
    )
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_shared_processors(),
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            # Plain-text tracebacks: structured ones can carry local variables (passwords).
            *([] if human else [structlog.processors.format_exc_info]),
            renderer,
        ],
    )


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is at the time, not the one at configuration (a CLI
    test runner swaps it and closes its own afterwards)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def configure_logging(level: str = "INFO") -> None:
    """Route structlog and the standard library (uvicorn included) to stderr, in one
    format: JSON lines, or human lines when stderr is a terminal (structlog's habit)."""
    structlog.configure(
        processors=[*_shared_processors(), structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = _StderrHandler()
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(json_formatter(human=sys.stderr.isatty()))
    root = logging.getLogger()
    # Replace only our own handler, so calling this twice (one app per test) is harmless
    # and handlers installed by others (pytest's capture) stay.
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True
    # Our access line replaces uvicorn's (which would log the query string).
    logging.getLogger("uvicorn.access").disabled = True
    # httpx logs every outbound URL at INFO, query string (and any secret in it) included.
    for client_logger in ("httpx", "httpx2", "httpcore"):
        logging.getLogger(client_logger).setLevel(logging.WARNING)


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            candidate: str = value.decode("latin-1")
            if _SAFE_REQUEST_ID.match(candidate):
                return candidate
            break
    return uuid.uuid4().hex


class RequestContextMiddleware:
    """Binds a request id to every log line of the request, echoes it, logs one access line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((REQUEST_ID_HEADER.encode(), request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                client = scope.get("client")
                access_log.info(
                    "request",
                    method=scope["method"],
                    # The path only: a query string may carry something private.
                    path=scope["path"],
                    status=status,
                    duration_ms=round((time.perf_counter() - started) * 1000, 2),
                    client_ip=client[0] if client else None,
                )
