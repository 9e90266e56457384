"""Accounts: signing up, reading one's own account."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pressroom.accounts.models import User
from pressroom.auth.passwords import hash_password, password_problems
from pressroom.errors import Conflict, InvalidInput


class EmailTaken(Conflict):
    code = "email_taken"


def normalize_email(email: str) -> str:
    """Emails are compared and stored in lower case (the whole address, by our choice)."""
    return email.strip().lower()


def get_user_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == normalize_email(email)))


def signup(session: Session, *, email: str, password: str, display_name: str | None) -> User:
    email = normalize_email(email)
    problems = password_problems(password, email=email)
    if problems:
        raise InvalidInput(
            f"password: {problems[0]}",
            extra={"errors": [{"field": "password", "in": "body", "message": p} for p in problems]},
        )
    if get_user_by_email(session, email) is not None:
        raise EmailTaken("An account with this email already exists.")
    user = User(email=email, password_hash=hash_password(password), display_name=display_name)
    try:
        # A savepoint, so losing a race to the same email leaves the transaction usable.
        with session.begin_nested():
            session.add(user)
    except IntegrityError:
        raise EmailTaken("An account with this email already exists.") from None
    return user
