"""The floors the API is compared with, served by the same Uvicorn as the app:

- `/floor`: a bare FastAPI `def` endpoint (one thread hop, no validation, no database);
- `/floor/db`: FastAPI + psycopg: one query for a page of 50 jobs of the big org (the
  listing's columns), serialised with orjson; a connection per thread, no transaction.

Nothing here is the app: a request to the app costs the floor plus what the app adds.
"""

from __future__ import annotations

import os
import threading
import uuid
from typing import Any

import orjson
import psycopg
from fastapi import FastAPI, Response

# The columns of the job listing (JobOut), the big org's newest 50 (+1 for the cursor).
PAGE = (
    "SELECT id, org_id, kind, status, priority, attempts, max_attempts, error, created_at,"
    " updated_at, started_at, finished_at, cancel_requested_at, usage FROM content_jobs"
    " WHERE org_id = %s ORDER BY created_at DESC, id DESC LIMIT 51"
)
_local = threading.local()


def _conn() -> psycopg.Connection[Any]:
    conn: psycopg.Connection[Any] | None = getattr(_local, "conn", None)
    if conn is None or conn.closed:
        conn = psycopg.connect(os.environ["FLOOR_DATABASE_URL"], autocommit=True)
        _local.conn = conn
    return conn


def create_app() -> FastAPI:
    app = FastAPI()
    org = uuid.UUID(os.environ["FLOOR_ORG_ID"])
    columns = [c.strip() for c in PAGE.split("SELECT ", 1)[1].split(" FROM")[0].split(",")]

    @app.get("/readyz")
    def readyz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/floor")
    def floor() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/floor/db")
    def floor_db() -> Response:
        rows = _conn().execute(PAGE, (org,), prepare=True).fetchall()
        items = [dict(zip(columns, r, strict=True)) for r in rows[:50]]
        body = orjson.dumps({"items": items, "next_cursor": None})
        return Response(body, media_type="application/json")

    return app
