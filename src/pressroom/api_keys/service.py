"""Organization API keys: the secret is shown once and stored as a sha256 hash."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Update, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from pressroom.api_keys.models import ApiKey
from pressroom.db.tenancy import OrgScope, SystemDuty, system_duty
from pressroom.errors import NotFound
from pressroom.hashed_secrets import hash_secret, new_secret
from pressroom.pagination import PageParams, page_of

API_KEY_PREFIX = "prk_"
# Characters of the key shown in listings so people can tell keys apart.
VISIBLE_PREFIX_LENGTH = len(API_KEY_PREFIX) + 8
# Writing last_used_at on every call would turn each read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def create_api_key(
    session: Session,
    scope: OrgScope,
    *,
    created_by: uuid.UUID,
    name: str,
    scopes: list[str],
    expires_at: datetime | None,
) -> tuple[ApiKey, str]:
    """The new key and its secret (the only time the secret exists outside the caller)."""
    secret = new_secret(API_KEY_PREFIX)
    key = ApiKey(
        org_id=scope.org_id,
        name=name,
        prefix=secret[:VISIBLE_PREFIX_LENGTH],
        secret_hash=hash_secret(secret),
        scopes=sorted(set(scopes)),
        created_by=created_by,
        expires_at=expires_at,
    )
    session.add(key)
    session.flush()
    return key, secret


def list_api_keys(
    session: Session, scope: OrgScope, page: PageParams
) -> tuple[list[ApiKey], str | None]:
    query = select(ApiKey).where(scope.where(ApiKey.org_id))
    return page_of(session, query, ApiKey.id, page)


def revoke_api_key(session: Session, scope: OrgScope, key_id: uuid.UUID) -> None:
    key = session.scalar(
        select(ApiKey).where(ApiKey.id == key_id, scope.where(ApiKey.org_id)).with_for_update()
    )
    if key is None:
        raise NotFound("API key not found")
    if key.revoked_at is None:
        key.revoked_at = datetime.now(UTC)
        session.flush()


def authenticate_api_key(session: Session, secret: str) -> ApiKey | None:
    """The live key with this secret (recording its use), or None."""
    # The key names its org, so it is looked up before any org scope exists.
    with system_duty(session, SystemDuty.CREDENTIALS):
        return _authenticate(session, secret)


def _authenticate(session: Session, secret: str) -> ApiKey | None:
    now = datetime.now(UTC)
    key = session.scalar(select(ApiKey).where(*live_key(secret, now)))
    if key is not None:
        record_use(session, key, now)
    return key


def live_key(secret: str, now: datetime) -> tuple[ColumnElement[bool], ...]:
    """What makes a key with this secret usable now: the one spelling of it."""
    return live_key_hash(hash_secret(secret), now)


def live_key_hash(secret_hash: Any, now: Any) -> tuple[ColumnElement[bool], ...]:
    """`live_key` by the secret's hash; values or bound parameters (a statement built once,
    pressroom.db.async_pool)."""
    return (
        ApiKey.secret_hash == secret_hash,
        ApiKey.revoked_at.is_(None),
        or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > now),
    )


def use_is_stale(last_used_at: datetime | None, now: datetime) -> bool:
    """Whether a use at `now` is worth recording, after one at `last_used_at`."""
    return last_used_at is None or last_used_at < now - LAST_USED_RESOLUTION


def use_recording(key_id: uuid.UUID, now: datetime) -> Update:
    """The statement that notes a use of the key at `now`, unless one is being noted.

    Every request in flight with this key sees the same stale value. A plain UPDATE
    would make each wait for the previous one's whole request to commit (the row stays
    locked until then): a burst of calls would run one at a time, every minute. Whoever
    holds the row is recording the use already; the rest skip it."""
    stale = (
        select(ApiKey.id)
        .where(
            ApiKey.id == key_id,
            or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < now - LAST_USED_RESOLUTION),
        )
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    return update(ApiKey).where(ApiKey.id == stale).values(last_used_at=now).returning(ApiKey.id)


def record_use(session: Session, key: ApiKey, now: datetime) -> None:
    """Note that `key` was used, at most once per LAST_USED_RESOLUTION."""
    if not use_is_stale(key.last_used_at, now):
        return
    recorded = session.execute(
        use_recording(key.id, now).execution_options(synchronize_session=False)
    ).scalar()
    if recorded is not None:
        set_committed_value(key, "last_used_at", now)  # written already: no second UPDATE
