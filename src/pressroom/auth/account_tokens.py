"""Single-use tokens mailed to a user: issued hashed, spent once by one statement."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, insert, update
from sqlalchemy.orm import Session

from pressroom.auth.models import AccountToken
from pressroom.auth.tokens import hash_secret, new_secret
from pressroom.db.base import new_id
from pressroom.errors import InvalidInput

PASSWORD_RESET = "password_reset"  # noqa: S105 - a purpose, not a secret
EMAIL_VERIFICATION = "email_verification"
_PREFIXES = {PASSWORD_RESET: "prp_", EMAIL_VERIFICATION: "prv_"}


class InvalidToken(InvalidInput):
    code, title = "invalid_token", "Invalid token"

    def __init__(self, detail: str) -> None:
        super().__init__(
            detail, extra={"errors": [{"field": "token", "in": "body", "message": detail}]}
        )


def issue(
    db: Session | Connection, user_id: uuid.UUID, purpose: str, ttl_seconds: int
) -> tuple[str, datetime]:
    token = new_secret(_PREFIXES[purpose])
    expires_at = datetime.now(UTC) + timedelta(seconds=ttl_seconds)
    db.execute(
        insert(AccountToken).values(
            id=new_id(),
            user_id=user_id,
            purpose=purpose,
            token_hash=hash_secret(token),
            expires_at=expires_at,
        )
    )
    return token, expires_at


def spend(db: Session | Connection, token: str, purpose: str) -> uuid.UUID | None:
    """The token's user, marking it used; None if unknown, used, expired or for another
    purpose. One statement: two concurrent uses cannot both succeed."""
    now = datetime.now(UTC)
    return db.execute(
        update(AccountToken)
        .where(
            AccountToken.token_hash == hash_secret(token),
            AccountToken.purpose == purpose,
            AccountToken.used_at.is_(None),
            AccountToken.expires_at > now,
        )
        .values(used_at=now)
        .returning(AccountToken.user_id)
    ).scalar()


def spend_all(db: Session | Connection, user_id: uuid.UUID, purpose: str) -> None:
    """Void the user's other outstanding tokens of this purpose."""
    db.execute(
        update(AccountToken)
        .where(
            AccountToken.user_id == user_id,
            AccountToken.purpose == purpose,
            AccountToken.used_at.is_(None),
        )
        .values(used_at=datetime.now(UTC))
    )
