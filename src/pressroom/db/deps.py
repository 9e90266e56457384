"""The request's unit of work as a FastAPI dependency."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from pressroom.db.session import unit_of_work


def request_session(request: Request) -> Iterator[Session]:
    with unit_of_work(request.app.state.sessionmaker) as session:
        yield session


DbSession = Annotated[Session, Depends(request_session)]
