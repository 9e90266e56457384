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
from typing import Literal

from sqlalchemy import Engine, text

from pressroom.config import Settings
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


def limit_attempt(
    engine: Engine,
    settings: Settings,
    action: Literal["login", "signup"],
    ip: str | None,
    email: str,
) -> None:
    """Count a login or signup attempt per client address and per account: the one block
    the API and the dashboard both call, so a browser and a script share the same limits."""
    per_ip, per_account = (
        (settings.login_limit_per_ip, settings.login_limit_per_account)
        if action == "login"
        else (settings.signup_limit_per_ip, settings.signup_limit_per_account)
    )
    hit(
        engine,
        [Limit(ip_key(action, ip), per_ip), Limit(account_key(action, email), per_account)],
        settings.rate_limit_window_seconds,
    )
