from __future__ import annotations

from fastapi import APIRouter

from pressroom.auth import rate_limit, service
from pressroom.auth.dependencies import CurrentUser, UserRequired
from pressroom.auth.schemas import LoginIn, LogoutOut, RefreshIn, TokenPair
from pressroom.db.deps import DbSession
from pressroom.errors import InvalidInput, TooManyRequests, Unauthorized, error_responses
from pressroom.http.dependencies import AppEngine, AppSettings, ClientIp

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/login", responses=error_responses(Unauthorized, InvalidInput, TooManyRequests))
def login(
    body: LoginIn,
    session: DbSession,
    settings: AppSettings,
    engine: AppEngine,
    ip: ClientIp,
) -> TokenPair:
    """Exchange email and password for an access token and a refresh token."""
    rate_limit.hit(
        engine,
        [
            rate_limit.Limit(rate_limit.ip_key("login", ip), settings.login_limit_per_ip),
            rate_limit.Limit(
                rate_limit.account_key("login", body.email), settings.login_limit_per_account
            ),
        ],
        settings.rate_limit_window_seconds,
    )
    return service.login(session, settings, email=body.email, password=body.password)


@router.post("/refresh", responses=error_responses(Unauthorized, InvalidInput))
def refresh(body: RefreshIn, session: DbSession, settings: AppSettings) -> TokenPair:
    """New tokens for a refresh token; the refresh token used is spent."""
    return service.refresh(session, settings, body.refresh_token)


@router.post("/logout", responses=error_responses(Unauthorized, UserRequired))
def logout(caller: CurrentUser, session: DbSession) -> LogoutOut:
    """End this session: its access and refresh tokens stop working at once."""
    return LogoutOut(sessions_ended=service.logout(session, caller))


@router.post("/logout-all", responses=error_responses(Unauthorized, UserRequired))
def logout_all(caller: CurrentUser, session: DbSession) -> LogoutOut:
    """End every session of this user, on every device."""
    return LogoutOut(sessions_ended=service.logout_everywhere(session, caller))
