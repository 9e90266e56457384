"""E-mail verification: signup mails a link; the token proves the address is the user's.

What an unverified account may not do (docs/email.md, "Verification"): accept an
invitation to an organization (the inviter also receives the invitation token, so
without this a squatter account on someone else's address could take the seat).
Everything else works before verification.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from pressroom.auth import account_tokens
from pressroom.auth.users import User
from pressroom.config import Settings
from pressroom.email.service import send_email
from pressroom.errors import Conflict, Forbidden

TEMPLATE = "verify_email"


class EmailNotVerified(Forbidden):
    code, title = "email_not_verified", "E-mail address not verified"


class AlreadyVerified(Conflict):
    code = "email_already_verified"


def start(session: Session, settings: Settings, user: User) -> None:
    """Mail a verification link (at signup, and on request)."""
    token, expires_at = account_tokens.issue(
        session, user.id, account_tokens.EMAIL_VERIFICATION, settings.email_verification_ttl_seconds
    )
    base = settings.public_url.rstrip("/")
    send_email(
        session,
        to=user.email,
        template=TEMPLATE,
        context={
            "email": user.email,
            "token": token,
            "verify_url": f"{base}/verify-email?token={token}",
            "expires_at": expires_at.isoformat(timespec="minutes"),
        },
    )


def resend(session: Session, settings: Settings, user: User) -> None:
    if user.email_verified_at is not None:
        raise AlreadyVerified("This e-mail address is already verified.")
    account_tokens.spend_all(session, user.id, account_tokens.EMAIL_VERIFICATION)
    start(session, settings, user)


def verify(session: Session, token: str) -> User:
    user_id = account_tokens.spend(session, token, account_tokens.EMAIL_VERIFICATION)
    if user_id is None:
        raise account_tokens.InvalidToken("The verification token is invalid, used or expired.")
    user = session.get(User, user_id)
    assert user is not None
    if user.email_verified_at is None:
        user.email_verified_at = datetime.now(UTC)
    session.flush()
    return user


def require_verified(user: User) -> None:
    if user.email_verified_at is None:
        raise EmailNotVerified(
            "Verify your e-mail address first (POST /v1/auth/verify-email; "
            "POST /v1/auth/verify-email/resend sends a new link)."
        )
