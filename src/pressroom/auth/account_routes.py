from __future__ import annotations

from fastapi import APIRouter, status

from pressroom.auth import accounts, email_verification
from pressroom.auth.account_schemas import SignupIn, UserOut
from pressroom.auth.dependencies import CurrentUser, UserRequired
from pressroom.auth.rate_limit import Attempts
from pressroom.config import AppSettings
from pressroom.db.deps import DbSession
from pressroom.errors import Conflict, InvalidInput, TooManyRequests, Unauthorized, error_responses

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
    attempts: Attempts,
) -> UserOut:
    """Create an account and mail a verification link. Log in afterwards to get tokens."""
    attempts.count("signup", body.email)
    user = accounts.signup(
        session, email=body.email, password=body.password, display_name=body.display_name
    )
    email_verification.start(session, settings, user)
    return UserOut.model_validate(user)


@router.get("/me", responses=error_responses(Unauthorized, UserRequired))
def me(caller: CurrentUser) -> UserOut:
    """The calling user's account."""
    return UserOut.model_validate(caller.user)
