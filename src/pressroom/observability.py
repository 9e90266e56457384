"""JSON logs (structlog); the request id and access line are pressroom.http.request_context.

Secrets never reach a log line: we never log bodies, headers or query strings, and the
`redact_secrets` processor blanks any event field whose name looks like a credential, as a
second wall against a careless `log.info(..., password=...)`.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from functools import lru_cache
from typing import Any

import orjson
import structlog

_SECRET_FIELD = re.compile(
    r"pass(word)?|secret|token|authorization|api_?key|cookie|credential", re.IGNORECASE
)
REDACTED = "[redacted]"
_HANDLER_NAME = "pressroom-json"


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
