"""Test databases on a real PostgreSQL.

The server is the one named by DATABASE_URL, or else a throwaway embedded PostgreSQL.
One template database is migrated to head per run; each test that needs its own committed
data gets a fresh clone of it (CREATE DATABASE ... TEMPLATE), dropped afterwards.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from pressroom.db import admin, embedded, migrations


def _unique_name(kind: str) -> str:
    return f"pressroom_test_{kind}_{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """A libpq URL of a database on the test server (used only to create databases)."""
    configured = os.environ.get("DATABASE_URL") or os.environ.get("PRESSROOM_DATABASE_URL")
    if configured:
        yield configured
        return
    # The embedded server deletes itself (data directory included) when the run exits.
    data_dir = Path(tempfile.mkdtemp(prefix="pressroom-test-"))
    yield embedded.start(data_dir, throwaway=True, quiet=True)


@pytest.fixture(scope="session")
def template_database(server_url: str) -> Iterator[str]:
    """Name of a database migrated to head, to clone from."""
    name = _unique_name("template")
    url = admin.create_database(server_url, name)
    migrations.upgrade(url, "head")
    yield name
    admin.drop_database(server_url, name)


@pytest.fixture
def empty_database_url(server_url: str) -> Iterator[str]:
    """A brand-new database with no schema at all."""
    name = _unique_name("empty")
    yield admin.create_database(server_url, name)
    admin.drop_database(server_url, name)


@pytest.fixture
def database_url(server_url: str, template_database: str) -> Iterator[str]:
    """A private database at head, for tests that commit."""
    name = _unique_name("db")
    yield admin.create_database(server_url, name, template=template_database)
    admin.drop_database(server_url, name)
