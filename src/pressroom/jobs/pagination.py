"""Opaque keyset cursors: the (created_at, id) of the last row of a page."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from dataclasses import dataclass
from datetime import datetime

from pressroom.errors import InvalidInput


@dataclass(frozen=True)
class Cursor:
    created_at: datetime
    id: uuid.UUID

    def encode(self) -> str:
        raw = json.dumps({"c": self.created_at.isoformat(), "i": str(self.id)})
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            data = json.loads(raw)
            cursor = cls(datetime.fromisoformat(data["c"]), uuid.UUID(data["i"]))
        except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError):
            raise InvalidInput(
                "cursor: not a cursor this API returned",
                extra={"errors": [{"field": "cursor", "in": "query", "message": "invalid cursor"}]},
            ) from None
        if cursor.created_at.tzinfo is None:
            raise InvalidInput("cursor: not a cursor this API returned")
        return cursor
