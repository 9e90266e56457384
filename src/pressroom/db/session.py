"""Engine and unit of work. The caller (a request, a worker step) owns the transaction:
services only add, flush and query; `unit_of_work` commits on success, rolls back on error,
then runs what was queued for after the commit (NOTIFY, outbound calls)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache

from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker

from pressroom.config import get_settings
from pressroom.db.url import database_url, to_sqlalchemy_url

AFTER_COMMIT_KEY = "after_commit"


def make_engine(url: str, *, pool_size: int | None = None) -> Engine:
    settings = get_settings()
    return create_engine(
        to_sqlalchemy_url(url),
        pool_size=pool_size or settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_pre_ping=True,
        # Errors must not carry bound values (password hashes, token hashes) into logs.
        hide_parameters=True,
        connect_args={
            "options": f"-c statement_timeout={settings.db_statement_timeout_ms}",
            "application_name": "pressroom",
        },
    )


@lru_cache
def get_engine() -> Engine:
    return make_engine(database_url())


@lru_cache
def get_sessionmaker() -> sessionmaker[Session]:
    return sessionmaker(bind=get_engine(), expire_on_commit=False)


def after_commit(session: Session, action: Callable[[], None]) -> None:
    """Run `action` once the surrounding transaction has committed (never if it rolls back)."""
    session.info.setdefault(AFTER_COMMIT_KEY, []).append(action)


@contextmanager
def unit_of_work(factory: sessionmaker[Session] | None = None) -> Iterator[Session]:
    session = (factory or get_sessionmaker())()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        actions = session.info.pop(AFTER_COMMIT_KEY, [])
        session.close()
    for action in actions:
        action()
