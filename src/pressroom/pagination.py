"""Keyset pagination: `?limit=&after=<id>`, answered with `{items, next_cursor}`.

Ids are UUIDv7 (time-ordered), so "after this id" is a stable, index-friendly cursor.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel
from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute, Session

DEFAULT_LIMIT = 50
MAX_LIMIT = 100

T = TypeVar("T")
ItemT = TypeVar("ItemT")


@dataclass(frozen=True)
class PageParams:
    limit: int
    after: uuid.UUID | None


def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page.")] = (
        DEFAULT_LIMIT
    ),
    after: Annotated[
        uuid.UUID | None, Query(description="The `next_cursor` of the previous page.")
    ] = None,
) -> PageParams:
    return PageParams(limit=limit, after=after)


Pagination = Annotated[PageParams, Depends(page_params)]


class Page(BaseModel, Generic[ItemT]):
    items: list[ItemT]
    next_cursor: uuid.UUID | None = None


def page_of(
    session: Session,
    query: Select[T],
    key: InstrumentedAttribute[uuid.UUID],
    page: PageParams,
) -> tuple[list[T], uuid.UUID | None]:
    """Run `query` for one page ordered by `key`; returns (rows, cursor of the next page)."""
    if page.after is not None:
        query = query.where(key > page.after)
    rows = list(session.scalars(query.order_by(key).limit(page.limit + 1)))
    if len(rows) <= page.limit:
        return rows, None
    rows = rows[: page.limit]
    last: Any = rows[-1]
    return rows, _cursor(last, key)


def _cursor(row: Any, key: InstrumentedAttribute[uuid.UUID]) -> uuid.UUID:
    value: uuid.UUID = getattr(row, key.key)
    return value
