"""Resolving the caller from `Authorization: Bearer <access token | API key>`.

This is the only place a credential becomes a principal; org-level decisions are made from
the principal in pressroom.orgs.access.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select

from pressroom.api_keys.service import API_KEY_PREFIX, authenticate_api_key
from pressroom.auth.models import AuthSession
from pressroom.auth.principals import ApiKeyPrincipal, Principal, UserPrincipal
from pressroom.auth.tokens import decode_access_token
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


def current_principal(
    session: DbSession,
    settings: AppSettings,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> Principal:
    if credentials is None:
        raise Unauthorized("Send 'Authorization: Bearer <token>'.", headers=_CHALLENGE)
    token = credentials.credentials
    if token.startswith(API_KEY_PREFIX):
        key = authenticate_api_key(session, token)
        if key is None:
            raise Unauthorized("The API key is invalid, revoked or expired.", headers=_CHALLENGE)
        return ApiKeyPrincipal(key)
    claims = decode_access_token(settings, token)
    user = None
    if claims is not None:
        # The login session must still be live: logging out takes effect at once.
        user = session.scalar(
            select(User)
            .join(AuthSession, AuthSession.user_id == User.id)
            .where(
                AuthSession.id == claims.session_id,
                User.id == claims.user_id,
                AuthSession.revoked_at.is_(None),
                AuthSession.expires_at > datetime.now(UTC),
            )
        )
    if claims is None or user is None:
        raise Unauthorized(
            "The access token is invalid or expired, or its session has ended.",
            headers=_CHALLENGE,
        )
    return UserPrincipal(user=user, session_id=claims.session_id)


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


async def current_user(principal: CurrentPrincipal) -> UserPrincipal:
    if not isinstance(principal, UserPrincipal):
        raise UserRequired("This endpoint needs a user's access token, not an API key.")
    return principal


CurrentUser = Annotated[UserPrincipal, Depends(current_user)]
