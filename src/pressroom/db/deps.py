"""The request's unit of work as a FastAPI dependency."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from pressroom.db.session import unit_of_work


def request_session(request: Request) -> Iterator[Session]:
    with unit_of_work(request.app.state.sessionmaker) as session:
        yield session


def app_engine(request: Request) -> Engine:
    """For work that must commit on its own, whatever the request's transaction does."""
    engine: Engine = request.app.state.engine
    return engine


DbSession = Annotated[Session, Depends(request_session)]
AppEngine = Annotated[Engine, Depends(app_engine)]
