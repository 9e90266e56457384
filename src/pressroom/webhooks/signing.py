"""Standard Webhooks signatures (https://www.standardwebhooks.com), via its library."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from datetime import datetime

from standardwebhooks.webhooks import Webhook

SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret


def new_secret() -> str:
    """`whsec_` + base64 of 32 random bytes (the specification asks for 24 to 64)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def headers(secrets_: Sequence[str], msg_id: str, timestamp: datetime, body: str) -> dict[str, str]:
    """webhook-id, webhook-timestamp and webhook-signature (one `v1,...` per secret:
    during a rotation's grace period receivers holding either secret verify)."""
    signature = " ".join(Webhook(s).sign(msg_id, timestamp, body) for s in secrets_)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": signature,
    }
