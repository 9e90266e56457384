"""Logins: sessions whose hashed refresh token mints short-lived access tokens."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from pressroom.auth.accounts import get_user_by_email
from pressroom.auth.models import AuthSession
from pressroom.auth.passwords import verify_password
from pressroom.auth.principals import UserPrincipal
from pressroom.auth.schemas import TokenPair
from pressroom.auth.tokens import (
    REFRESH_TOKEN_PREFIX,
    create_access_token,
    hash_secret,
    new_secret,
)
from pressroom.auth.users import User
from pressroom.config import Settings
from pressroom.errors import Unauthorized


class InvalidCredentials(Unauthorized):
    code, title = "invalid_credentials", "Invalid credentials"


class InvalidRefreshToken(Unauthorized):
    code, title = "invalid_refresh_token", "Invalid refresh token"


def login(session: Session, settings: Settings, *, email: str, password: str) -> TokenPair:
    user = get_user_by_email(session, email)
    # An unknown email still costs one argon2 verification, so timing tells nothing.
    valid = verify_password(password, user.password_hash if user else None)
    if user is None or not valid:
        raise InvalidCredentials("Wrong email or password.")
    return _start_session(session, settings, user)


def _start_session(session: Session, settings: Settings, user: User) -> TokenPair:
    refresh_token = new_secret(REFRESH_TOKEN_PREFIX)
    auth_session = AuthSession(
        user_id=user.id,
        token_hash=hash_secret(refresh_token),
        expires_at=datetime.now(UTC) + timedelta(seconds=settings.refresh_token_ttl_seconds),
    )
    session.add(auth_session)
    session.flush()
    access_token, ttl = create_access_token(settings, user_id=user.id, session_id=auth_session.id)
    return TokenPair(access_token=access_token, refresh_token=refresh_token, expires_in=ttl)


def refresh(session: Session, settings: Settings, refresh_token: str) -> TokenPair:
    """Trade a refresh token for new tokens; the old refresh token stops working (rotation)."""
    new_refresh = new_secret(REFRESH_TOKEN_PREFIX)
    now = datetime.now(UTC)
    # One statement: two concurrent uses of the same token cannot both succeed.
    row = session.execute(
        update(AuthSession)
        .where(
            AuthSession.token_hash == hash_secret(refresh_token),
            AuthSession.revoked_at.is_(None),
            AuthSession.expires_at > now,
        )
        .values(token_hash=hash_secret(new_refresh), last_used_at=now)
        .returning(AuthSession.id, AuthSession.user_id)
    ).first()
    if row is None:
        raise InvalidRefreshToken("The refresh token is invalid, used, revoked or expired.")
    session_id, user_id = row
    access_token, ttl = create_access_token(settings, user_id=user_id, session_id=session_id)
    return TokenPair(access_token=access_token, refresh_token=new_refresh, expires_in=ttl)


def logout(session: Session, caller: UserPrincipal) -> int:
    """End the caller's current session (its access and refresh tokens stop working)."""
    return _revoke(session, caller, only_current=True)


def logout_everywhere(session: Session, caller: UserPrincipal) -> int:
    """End every session of the caller."""
    return _revoke(session, caller, only_current=False)


def _revoke(session: Session, caller: UserPrincipal, *, only_current: bool) -> int:
    return revoke_sessions(session, caller.user.id, caller.session_id if only_current else None)


def revoke_sessions(
    session: Session, user_id: uuid.UUID, session_id: uuid.UUID | None = None
) -> int:
    """End the user's sessions (only `session_id`, if given); returns how many ended."""
    query = update(AuthSession).where(
        AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None)
    )
    if session_id is not None:
        query = query.where(AuthSession.id == session_id)
    ended = session.execute(
        query.values(revoked_at=datetime.now(UTC)).returning(AuthSession.id)
    ).all()
    return len(ended)


def login_session(session: Session, settings: Settings, user: User) -> TokenPair:
    """A new login session for an already authenticated user (the dashboard's sign-up)."""
    return _start_session(session, settings, user)


def session_user(session: Session, refresh_token: str) -> UserPrincipal | None:
    """The user whose live login session holds `refresh_token`, or None.

    The dashboard's cookie carries a session's refresh token, so a cookie session *is* a
    login session: logging out (here or through the API) ends both at once.
    """
    row = session.execute(
        select(User, AuthSession.id)
        .join(AuthSession, AuthSession.user_id == User.id)
        .where(
            AuthSession.token_hash == hash_secret(refresh_token),
            AuthSession.revoked_at.is_(None),
            AuthSession.expires_at > datetime.now(UTC),
        )
    ).first()
    return UserPrincipal(user=row[0], session_id=row[1]) if row else None


def logout_others(session: Session, caller: UserPrincipal) -> int:
    """End every session of the caller but the current one (after a password change)."""
    ended = session.execute(
        update(AuthSession)
        .where(
            AuthSession.user_id == caller.user.id,
            AuthSession.revoked_at.is_(None),
            AuthSession.id != caller.session_id,
        )
        .values(revoked_at=datetime.now(UTC))
        .returning(AuthSession.id)
    ).all()
    return len(ended)


def live_sessions(session: Session, caller: UserPrincipal) -> list[AuthSession]:
    """The caller's sessions that still work, newest first (on ix_auth_sessions_user_id)."""
    return list(
        session.scalars(
            select(AuthSession)
            .where(
                AuthSession.user_id == caller.user.id,
                AuthSession.revoked_at.is_(None),
                AuthSession.expires_at > datetime.now(UTC),
            )
            .order_by(AuthSession.created_at.desc())
            .limit(100)
        )
    )
