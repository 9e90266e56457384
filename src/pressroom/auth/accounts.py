"""Accounts: signing up, reading one's own account."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pressroom.auth.passwords import hash_password, password_problems, verify_password
from pressroom.auth.users import User
from pressroom.errors import Conflict, InvalidInput


class EmailTaken(Conflict):
    code = "email_taken"


def normalize_email(email: str) -> str:
    """Emails are compared and stored in lower case (the whole address, by our choice)."""
    return email.strip().lower()


def get_user_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == normalize_email(email)))


def _check_new_password(password: str, email: str) -> None:
    problems = password_problems(password, email=email)
    if problems:
        raise InvalidInput(
            f"password: {problems[0]}",
            extra={"errors": [{"field": "password", "in": "body", "message": p} for p in problems]},
        )


def signup(session: Session, *, email: str, password: str, display_name: str | None) -> User:
    email = normalize_email(email)
    _check_new_password(password, email)
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


def update_profile(session: Session, user: User, *, display_name: str | None) -> User:
    user.display_name = display_name or None
    session.flush()
    return user


def change_password(session: Session, user: User, *, current: str, new: str) -> None:
    """Set a new password after checking the current one (the caller ends other sessions)."""
    if not verify_password(current, user.password_hash):
        raise InvalidInput(
            "current_password: wrong password",
            extra={
                "errors": [{"field": "current_password", "in": "body", "message": "wrong password"}]
            },
        )
    _check_new_password(new, user.email)
    user.password_hash = hash_password(new)
    session.flush()
