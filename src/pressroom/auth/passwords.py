"""Password hashing (argon2id via pwdlib) and the password policy."""

from __future__ import annotations

from functools import lru_cache

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

MIN_PASSWORD_LENGTH = 10
# Long enough for any passphrase, short enough that hashing stays cheap to request.
MAX_PASSWORD_LENGTH = 128


@lru_cache
def _hasher() -> PasswordHash:
    return PasswordHash((Argon2Hasher(),))


@lru_cache
def _dummy_hash() -> str:
    return _hasher().hash("not-a-real-password-used-only-to-spend-time")


def warm_up() -> None:
    """Compute the dummy hash now, so the first unknown-email login is not the slow one."""
    _dummy_hash()


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password: str, password_hash: str | None) -> bool:
    """Check a password; with no hash (unknown user) spend the same time and say no."""
    if password_hash is None:
        _hasher().verify(password, _dummy_hash())
        return False
    return _hasher().verify(password, password_hash)


def password_problems(password: str, *, email: str) -> list[str]:
    """Why a new password is refused (empty when it is acceptable)."""
    problems = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(f"must be at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        problems.append(f"must be at most {MAX_PASSWORD_LENGTH} characters")
    if password.strip() == "" or len(set(password)) < 4:
        problems.append("must not be blank or one repeated character")
    lowered = password.lower()
    local_part = email.split("@", 1)[0].lower()
    if lowered == email.lower() or (len(local_part) >= 4 and local_part in lowered):
        problems.append("must not contain your email address")
    return problems
