"""Password reset by e-mail.

The request does the same work whatever the address: it writes one outbox row naming the
address, nothing else, and answers 202. The worker then looks the address up, and only
for an account makes the token (hashed, single-use, one hour) and sends the link. So
neither the answer nor its timing tells whether an account exists.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from pressroom.auth import account_tokens
from pressroom.auth.accounts import normalize_email
from pressroom.auth.passwords import hash_password, password_problems
from pressroom.auth.service import revoke_sessions
from pressroom.auth.users import User
from pressroom.config import Settings
from pressroom.email.delivery import Preparer
from pressroom.email.service import send_email
from pressroom.errors import InvalidInput

TEMPLATE = "password_reset"


def request_reset(session: Session, email: str) -> None:
    send_email(session, to=normalize_email(email), template=TEMPLATE, context={})


def preparer(settings: Settings) -> Preparer:
    """The e-mail's send-time step: the token, for an existing account only."""

    def prepare(conn: Connection, to: str, context: dict[str, Any]) -> dict[str, Any] | None:
        user_id = conn.execute(select(User.id).where(User.email == to)).scalar()
        if user_id is None:
            return None  # nobody to write to; the request looked exactly the same
        token, _ = account_tokens.issue(
            conn, user_id, account_tokens.PASSWORD_RESET, settings.password_reset_ttl_seconds
        )
        base = settings.public_url.rstrip("/")
        url = f"{base}/reset-password?token={token}"
        return {**context, "email": to, "token": token, "reset_url": url}

    return prepare


def confirm_reset(session: Session, token: str, password: str) -> int:
    """Set the new password, end every session of the user; returns sessions ended."""
    user_id = account_tokens.spend(session, token, account_tokens.PASSWORD_RESET)
    if user_id is None:
        raise account_tokens.InvalidToken("The reset token is invalid, used or expired.")
    user = session.get(User, user_id)
    assert user is not None  # tokens go with their user (ON DELETE CASCADE)
    problems = password_problems(password, email=user.email)
    if problems:
        # Raising rolls the request back: the token stays usable for a better password.
        raise InvalidInput(
            f"password: {problems[0]}",
            extra={"errors": [{"field": "password", "in": "body", "message": p} for p in problems]},
        )
    user.password_hash = hash_password(password)
    if user.email_verified_at is None:  # the link reached the inbox: the address is theirs
        user.email_verified_at = datetime.now(UTC)
    account_tokens.spend_all(session, user_id, account_tokens.PASSWORD_RESET)
    return revoke_sessions(session, user_id)
