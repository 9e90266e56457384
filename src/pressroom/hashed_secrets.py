"""Opaque secrets (API keys, refresh tokens, invitations): random, stored only as hashes."""

from __future__ import annotations

import hashlib
import secrets


def new_secret(prefix: str) -> str:
    """A high-entropy (256-bit) opaque secret, recognisable by its prefix."""
    return prefix + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    """sha256 is enough for 256-bit random secrets (no dictionary to attack), and lets us
    look a secret up by its hash with a unique index."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()
