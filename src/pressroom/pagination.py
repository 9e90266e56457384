"""Keyset pagination, one convention for every list: `?limit=` (1-100, default 50) and
`?after=<next_cursor of the previous page>`, answered with `{items, next_cursor}`.

The cursor is opaque to clients. Lists ordered by id (UUIDv7, time-ordered) use the last
row's id; the job listing, newest first on `(created_at, id)`, uses `Cursor`, the encoded
pair. Either way a page deep in a list costs what the first one does.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute, Session

from pressroom.errors import InvalidInput

DEFAULT_LIMIT = 50
MAX_LIMIT = 100
MAX_CURSOR_LENGTH = 200

T = TypeVar("T")
ItemT = TypeVar("ItemT")


@dataclass(frozen=True)
class PageParams:
    limit: int = DEFAULT_LIMIT
    after: str | None = None


# async: no I/O here, so no thread-pool hop for it (FastAPI runs plain functions there).
async def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page.")] = (
        DEFAULT_LIMIT
    ),
    after: Annotated[
        str | None,
        Query(
            max_length=MAX_CURSOR_LENGTH,
            description="The `next_cursor` of the previous page; omit for the first page.",
        ),
    ] = None,
) -> PageParams:
    return PageParams(limit=limit, after=after or None)


Pagination = Annotated[PageParams, Depends(page_params)]


class Page(BaseModel, Generic[ItemT]):
    items: list[ItemT]
    next_cursor: str | None = Field(
        default=None, description="Pass as `after` for the next page; null on the last page."
    )


def invalid_cursor() -> InvalidInput:
    return InvalidInput(
        "after: not a cursor this API returned",
        extra={"errors": [{"field": "after", "in": "query", "message": "invalid cursor"}]},
    )


def cursor_id(after: str) -> uuid.UUID:
    """The id an id-ordered list's cursor carries (422 naming `after` if it is not one)."""
    try:
        return uuid.UUID(after)
    except ValueError:
        raise invalid_cursor() from None


def page_of(
    session: Session,
    query: Select[T],
    key: InstrumentedAttribute[uuid.UUID],
    page: PageParams,
    *,
    newest_first: bool = False,
) -> tuple[list[T], str | None]:
    """Run `query` for one page ordered by `key` (descending if `newest_first`: ids are
    time-ordered); returns (rows, cursor of the next page)."""
    if page.after is not None:
        after = cursor_id(page.after)
        query = query.where(key < after if newest_first else key > after)
    order = key.desc() if newest_first else key
    rows = list(session.scalars(query.order_by(order).limit(page.limit + 1)))
    if len(rows) <= page.limit:
        return rows, None
    rows = rows[: page.limit]
    last: Any = rows[-1]
    return rows, str(getattr(last, key.key))


@dataclass(frozen=True)
class Cursor:
    """The (created_at, id) of the last row of a page, for lists ordered by time."""

    created_at: datetime
    id: uuid.UUID

    def encode(self) -> str:
        raw = json.dumps({"c": self.created_at.isoformat(), "i": str(self.id)})
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            data = json.loads(raw)
            cursor = cls(datetime.fromisoformat(data["c"]), uuid.UUID(data["i"]))
        except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError):
            raise invalid_cursor() from None
        if cursor.created_at.tzinfo is None:
            raise invalid_cursor()
        return cursor
