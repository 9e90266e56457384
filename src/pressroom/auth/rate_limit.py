"""Fixed-window attempt limits (signup, login), counted in PostgreSQL.

The count is one upsert per request in its own short transaction, so it is shared by every
API process and survives the request's rollback (a failed login still counts). The window is
fixed (not sliding): at a window edge a client can get up to twice the limit in a short burst,
which is acceptable for slowing down password guessing and mass signups.
"""

from __future__ import annotations

import hashlib
import math
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import Depends, Request
from sqlalchemy import Engine, text

from pressroom.config import AppSettings, Settings
from pressroom.db.deps import AppEngine
from pressroom.errors import TooManyRequests

# One in this many hits also deletes windows that ended long ago, keeping the table small.
_CLEANUP_ONE_IN = 200


@dataclass(frozen=True)
class Limit:
    key: str
    max_hits: int


def account_key(action: str, email: str) -> str:
    # Hashed so the table holds no email addresses.
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
    return f"{action}:account:{digest}"


def ip_key(action: str, ip: str | None) -> str:
    return f"{action}:ip:{ip or 'unknown'}"


Action = Literal["signup", "login", "reset", "verify"]


def _limits_of(settings: Settings, action: Action) -> tuple[int, int]:
    """(per client IP, per account) attempts allowed per window."""
    if action == "signup":
        return settings.signup_limit_per_ip, settings.signup_limit_per_account
    if action == "login":
        return settings.login_limit_per_ip, settings.login_limit_per_account
    # Both mail a link: limited like each other, so neither floods an inbox.
    return settings.password_reset_limit_per_ip, settings.password_reset_limit_per_account


@dataclass(frozen=True)
class AttemptCounter:
    """Counts an attempt (signup, login, a mailed link) against its per-IP and per-account
    limits."""

    engine: Engine
    settings: Settings
    ip: str | None

    def count(self, action: Action, email: str) -> None:
        per_ip, per_account = _limits_of(self.settings, action)
        hit(
            self.engine,
            [
                Limit(ip_key(action, self.ip), per_ip),
                Limit(account_key(action, email), per_account),
            ],
            self.settings.rate_limit_window_seconds,
        )


def client_ip(request: Request) -> str | None:
    # Behind a proxy, run uvicorn with --proxy-headers/--forwarded-allow-ips so this is
    # the client's address rather than the proxy's.
    return request.client.host if request.client else None


def attempt_counter(request: Request, engine: AppEngine, settings: AppSettings) -> AttemptCounter:
    return AttemptCounter(engine, settings, client_ip(request))


Attempts = Annotated[AttemptCounter, Depends(attempt_counter)]


def hit(engine: Engine, limits: list[Limit], window_seconds: int) -> None:
    """Count one attempt against every limit; raise TooManyRequests if any is exceeded."""
    now = time.time()
    start_epoch = math.floor(now / window_seconds) * window_seconds
    window_start = datetime.fromtimestamp(start_epoch, UTC)
    params: dict[str, object] = {"ws": window_start}
    rows = []
    for i, limit in enumerate(limits):
        params[f"k{i}"] = limit.key
        rows.append(f"(:k{i}, :ws, 1)")
    statement = text(
        "INSERT INTO rate_limit_buckets (key, window_start, hits) VALUES "
        + ", ".join(rows)
        + " ON CONFLICT (key, window_start) DO UPDATE SET hits = rate_limit_buckets.hits + 1"
        " RETURNING key, hits"
    )
    with engine.begin() as conn:
        counts = {key: hits for key, hits in conn.execute(statement, params)}
        if random.randrange(_CLEANUP_ONE_IN) == 0:  # noqa: S311 - not security relevant
            conn.execute(
                text("DELETE FROM rate_limit_buckets WHERE window_start < :cutoff"),
                {"cutoff": window_start - timedelta(seconds=window_seconds)},
            )
    if any(counts[limit.key] > limit.max_hits for limit in limits):
        retry_after = max(1, math.ceil(start_epoch + window_seconds - now))
        raise TooManyRequests(
            "Too many attempts; try again later.",
            headers={"Retry-After": str(retry_after)},
        )
