"""Refuse, with 422 naming the field, any text PostgreSQL cannot store.

PostgreSQL's `text` cannot hold NUL (and `jsonb` refuses the `\\u0000` escape), and a lone
UTF-16 surrogate cannot be encoded for the wire at all: such a value would reach SQL and
fail there as a 500. One check at the edge, for every route, covers the query string, the
headers, the path and the JSON body, before any handler or service runs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from fastapi import Request

from pressroom.errors import InvalidInput

# JSON can spell NUL and lone surrogates only as escapes (raw control characters are
# invalid JSON), so a body without these escapes needs no parsing here.
_SUSPECT_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")


def unstorable_reason(value: str) -> str | None:
    if "\x00" in value:
        return "contains a NUL character, which cannot be stored"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "contains a lone surrogate, which is not valid Unicode"
    return None


def _json_strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            child = f"{path}.{key}" if path else str(key)
            yield child, str(key)
            yield from _json_strings(item, child)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _json_strings(item, f"{path}.{index}" if path else str(index))


def _refuse(field: str, where: str, message: str) -> InvalidInput:
    return InvalidInput(
        f"{field}: {message}",
        extra={"errors": [{"field": field, "in": where, "message": message}]},
    )


async def refuse_unstorable_text(request: Request) -> None:
    """An app-wide dependency: runs before every route's own dependencies and body."""
    candidates: list[tuple[str, str, str]] = [
        *(("query", k, v) for k, v in request.query_params.multi_items()),
        *(("query", k, k) for k in request.query_params),
        *(("path", k, str(v)) for k, v in request.path_params.items()),
        *(("header", k, v) for k, v in request.headers.items()),
    ]
    for where, field, value in candidates:
        if reason := unstorable_reason(value):
            raise _refuse(field, where, reason)
    body = await request.body()
    if not _SUSPECT_ESCAPE.search(body):
        return
    try:
        parsed = json.loads(body)
    except ValueError:
        return  # not JSON: the route's own parsing answers it
    for field, value in _json_strings(parsed, ""):
        if reason := unstorable_reason(value):
            raise _refuse(field or "body", "body", reason)
