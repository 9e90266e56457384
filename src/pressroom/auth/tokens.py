"""Access tokens (short-lived JWTs); the opaque secrets are in pressroom.hashed_secrets."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

from pressroom.config import Settings

# Re-exported: refresh tokens, invitations and resets are opaque secrets too.
from pressroom.hashed_secrets import hash_secret as hash_secret
from pressroom.hashed_secrets import new_secret as new_secret

ALGORITHM = "HS256"
ISSUER = "pressroom"
ACCESS = "access"
REFRESH_TOKEN_PREFIX = "prr_"  # noqa: S105 - a prefix, not a secret


@dataclass(frozen=True)
class AccessClaims:
    user_id: uuid.UUID
    session_id: uuid.UUID


def create_access_token(
    settings: Settings, *, user_id: uuid.UUID, session_id: uuid.UUID
) -> tuple[str, int]:
    """A signed token naming the user and the login session; returns (token, lifetime s)."""
    now = datetime.now(UTC)
    ttl = settings.access_token_ttl_seconds
    claims = {
        "iss": ISSUER,
        "typ": ACCESS,
        "sub": str(user_id),
        "sid": str(session_id),
        "iat": now,
        "exp": now + timedelta(seconds=ttl),
    }
    token = jwt.encode(claims, settings.secret_key.get_secret_value(), algorithm=ALGORITHM)
    return token, ttl


def decode_access_token(settings: Settings, token: str) -> AccessClaims | None:
    """The token's claims, or None when it is forged, expired or malformed."""
    try:
        claims = jwt.decode(
            token,
            settings.secret_key.get_secret_value(),
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "sid", "iss"]},
        )
        if claims.get("typ") != ACCESS:
            return None
        return AccessClaims(uuid.UUID(claims["sub"]), uuid.UUID(claims["sid"]))
    except (jwt.PyJWTError, ValueError, TypeError, AttributeError):
        return None
