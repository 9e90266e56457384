"""The request's unit of work as a FastAPI dependency.

`scope="function"`: the dependency's exit (our COMMIT) runs once the route and its
response serialisation are done but *before* the response is sent. With the default
(request) scope FastAPI runs it after sending, so a client could be told 2xx for a
transaction that then failed to commit. A failed COMMIT raises here and is answered as
a 5xx problem (pressroom.errors), which the client retries with its Idempotency-Key.
"""

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


async def app_engine(request: Request) -> Engine:
    """For work that must commit on its own, whatever the request's transaction does."""
    engine: Engine = request.app.state.engine
    return engine


DbSession = Annotated[Session, Depends(request_session, scope="function")]
AppEngine = Annotated[Engine, Depends(app_engine)]
