"""Where the database is: DATABASE_URL when set, otherwise the embedded server."""

from __future__ import annotations

from functools import lru_cache

from pressroom.config import Settings, get_settings
from pressroom.db import embedded


def to_sqlalchemy_url(url: str) -> str:
    """Accept the libpq spellings operators paste (postgres://, postgresql://)."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    raise ValueError(
        "DATABASE_URL must start with postgresql:// (got "
        f"{url.split(':', 1)[0]!r}); example: postgresql://user:pass@host:5432/pressroom"
    )


def to_libpq_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def resolve_database_url(settings: Settings | None = None, *, quiet: bool = False) -> str:
    """A libpq URL for the configured database, starting the embedded server if needed."""
    settings = settings or get_settings()
    if settings.database_url:
        to_sqlalchemy_url(settings.database_url)  # validate the scheme early
        return settings.database_url
    return embedded.start(settings.data_dir, quiet=quiet)


@lru_cache
def database_url() -> str:
    return resolve_database_url()
