"""Password reset and e-mail verification (the flows that arrive by e-mail)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field

from pressroom.auth import email_verification, password_reset
from pressroom.auth.account_schemas import UserOut
from pressroom.auth.dependencies import CurrentUser, UserRequired
from pressroom.auth.passwords import MAX_PASSWORD_LENGTH
from pressroom.auth.rate_limit import Attempts
from pressroom.auth.schemas import LogoutOut
from pressroom.config import AppSettings
from pressroom.db.deps import DbSession
from pressroom.errors import (
    Conflict,
    InvalidInput,
    TooManyRequests,
    Unauthorized,
    error_responses,
)
from pressroom.validation import Storable

router = APIRouter(prefix="/auth", tags=["auth"])

Token = Field(min_length=1, max_length=256)


class ResetRequestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Not EmailStr: whatever is sent is answered the same way.
    email: Annotated[str, Storable] = Field(min_length=1, max_length=320)


class ResetConfirmIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: Annotated[str, Storable] = Token
    password: str = Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)


class VerifyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: Annotated[str, Storable] = Token


class Accepted(BaseModel):
    status: str = "accepted"


@router.post(
    "/password-reset",
    status_code=status.HTTP_202_ACCEPTED,
    responses=error_responses(InvalidInput, TooManyRequests),
)
def request_password_reset(
    body: ResetRequestIn, session: DbSession, attempts: Attempts
) -> Accepted:
    """Mail a reset link if an account has this address. The answer is the same (202) for
    any address, and so is the work done before answering."""
    attempts.count("reset", body.email)
    password_reset.request_reset(session, body.email)
    return Accepted()


@router.post("/password-reset/confirm", responses=error_responses(InvalidInput))
def confirm_password_reset(body: ResetConfirmIn, session: DbSession) -> LogoutOut:
    """Set a new password with the mailed token; every session of the account ends."""
    return LogoutOut(
        sessions_ended=password_reset.confirm_reset(session, body.token, body.password)
    )


@router.post("/verify-email", responses=error_responses(InvalidInput))
def verify_email(body: VerifyIn, session: DbSession) -> UserOut:
    """Prove the address with the mailed token (no login needed: the token is the proof)."""
    return UserOut.model_validate(email_verification.verify(session, body.token))


@router.post(
    "/verify-email/resend",
    status_code=status.HTTP_202_ACCEPTED,
    responses=error_responses(Unauthorized, UserRequired, Conflict, TooManyRequests),
)
def resend_verification(
    caller: CurrentUser, session: DbSession, settings: AppSettings, attempts: Attempts
) -> Accepted:
    """Mail a new verification link to the caller (earlier links stop working)."""
    attempts.count("verify", caller.user.email)
    email_verification.resend(session, settings, caller.user)
    return Accepted()
