"""Alembic environment: the URL comes from Pressroom's settings, never from alembic.ini."""

from __future__ import annotations

import sys
from logging.config import fileConfig

from alembic import context
from sqlalchemy import create_engine, pool
from sqlalchemy.exc import OperationalError

from pressroom.config import get_settings
from pressroom.db import online_ddl
from pressroom.db.errors import describe_connection_error
from pressroom.db.url import resolve_database_url, to_sqlalchemy_url
from pressroom.models import Base

config = context.config
if config.config_file_name and not config.attributes.get("skip_logging_config"):
    fileConfig(config.config_file_name, disable_existing_loggers=False)
target_metadata = Base.metadata


def _url() -> str:
    # Tests and the CLI hand a URL over explicitly; otherwise use the settings.
    url = config.attributes.get("url") or context.get_x_argument(as_dictionary=True).get("url")
    try:
        return to_sqlalchemy_url(url or resolve_database_url(quiet=True))
    except ValueError as exc:
        sys.exit(f"error: {exc}")


def run_migrations_offline() -> None:
    context.configure(
        url="postgresql+psycopg://",
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        online_ddl.set_session_timeouts()
        context.run_migrations()


def run_migrations_online() -> None:
    url = _url()
    engine = create_engine(
        url,
        poolclass=pool.NullPool,
        connect_args={"connect_timeout": get_settings().db_connect_timeout_seconds},
    )
    try:
        connection = engine.connect()
    except OperationalError as exc:
        sys.exit(f"error: {describe_connection_error(url, exc)}")
    with connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            transaction_per_migration=True,
        )
        with context.begin_transaction():
            online_ddl.set_session_timeouts()
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
