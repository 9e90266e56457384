"""Resolving the caller from `Authorization: Bearer <access token | API key>`.

A credential becomes a principal here, by the rules written here (`live_session`, and
`api_keys.service.live_key`); routes under /orgs/{org_id} check the same rules inside
pressroom.orgs.access's one access statement, which also makes the org-level decision.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import defer

from pressroom.api_keys.service import API_KEY_PREFIX, authenticate_api_key
from pressroom.auth.models import AuthSession
from pressroom.auth.principals import ApiKeyPrincipal, Principal, UserPrincipal
from pressroom.auth.tokens import AccessClaims, decode_access_token
from pressroom.auth.users import User
from pressroom.config import AppSettings
from pressroom.db.deps import DbSession
from pressroom.errors import Forbidden, Unauthorized

bearer_scheme = HTTPBearer(
    auto_error=False,
    description="An access token from POST /v1/auth/login, or an organization API key (prk_...).",
)
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


class UserRequired(Forbidden):
    code, title = "user_required", "A user is required"


def bearer_token(credentials: HTTPAuthorizationCredentials | None) -> str:
    if credentials is None:
        raise Unauthorized("Send 'Authorization: Bearer <token>'.", headers=_CHALLENGE)
    return credentials.credentials


def invalid_key() -> Unauthorized:
    return Unauthorized("The API key is invalid, revoked or expired.", headers=_CHALLENGE)


def invalid_token() -> Unauthorized:
    return Unauthorized(
        "The access token is invalid or expired, or its session has ended.", headers=_CHALLENGE
    )


# A request's user, without the password's hash: only changing the password reads it (and
# loads it then).
WITHOUT_PASSWORD_HASH = defer(User.password_hash)


def live_session(claims: AccessClaims, now: datetime) -> tuple[ColumnElement[bool], ...]:
    """The token's user on its login session, still live: logging out takes effect at once.
    For a query from `User` joined to `AuthSession`."""
    return live_session_of(claims.session_id, claims.user_id, now)


def live_session_of(session_id: Any, user_id: Any, now: Any) -> tuple[ColumnElement[bool], ...]:
    """`live_session` by its parts; values or bound parameters (a statement built once,
    pressroom.db.async_pool)."""
    return (
        AuthSession.id == session_id,
        User.id == user_id,
        AuthSession.revoked_at.is_(None),
        AuthSession.expires_at > now,
    )


def current_principal(
    session: DbSession,
    settings: AppSettings,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> Principal:
    token = bearer_token(credentials)
    if token.startswith(API_KEY_PREFIX):
        key = authenticate_api_key(session, token)
        if key is None:
            raise invalid_key()
        return ApiKeyPrincipal(key)
    claims = decode_access_token(settings, token)
    if claims is None:
        raise invalid_token()
    user = session.scalar(
        select(User)
        .join(AuthSession, AuthSession.user_id == User.id)
        .where(*live_session(claims, datetime.now(UTC)))
        .options(WITHOUT_PASSWORD_HASH)
    )
    if user is None:
        raise invalid_token()
    return UserPrincipal(user=user, session_id=claims.session_id)


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


async def current_user(principal: CurrentPrincipal) -> UserPrincipal:
    if not isinstance(principal, UserPrincipal):
        raise UserRequired("This endpoint needs a user's access token, not an API key.")
    return principal


CurrentUser = Annotated[UserPrincipal, Depends(current_user)]
