from __future__ import annotations

from fastapi import APIRouter, status

from pressroom.auth import accounts, rate_limit
from pressroom.auth.account_schemas import SignupIn, UserOut
from pressroom.auth.dependencies import CurrentUser, UserRequired
from pressroom.db.deps import DbSession
from pressroom.errors import Conflict, InvalidInput, TooManyRequests, Unauthorized, error_responses
from pressroom.http.dependencies import AppEngine, AppSettings, ClientIp

router = APIRouter(tags=["accounts"])


@router.post(
    "/auth/signup",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(Conflict, InvalidInput, TooManyRequests),
)
def signup(
    body: SignupIn,
    session: DbSession,
    settings: AppSettings,
    engine: AppEngine,
    ip: ClientIp,
) -> UserOut:
    """Create an account. Log in afterwards to get tokens."""
    rate_limit.hit(
        engine,
        [
            rate_limit.Limit(rate_limit.ip_key("signup", ip), settings.signup_limit_per_ip),
            rate_limit.Limit(
                rate_limit.account_key("signup", body.email), settings.signup_limit_per_account
            ),
        ],
        settings.rate_limit_window_seconds,
    )
    user = accounts.signup(
        session, email=body.email, password=body.password, display_name=body.display_name
    )
    return UserOut.model_validate(user)


@router.get("/me", responses=error_responses(Unauthorized, UserRequired))
def me(caller: CurrentUser) -> UserOut:
    """The calling user's account."""
    return UserOut.model_validate(caller.user)
