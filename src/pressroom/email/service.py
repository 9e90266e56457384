"""Sending e-mail means writing it to the outbox, in the caller's transaction."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from pressroom.email.templates import TEMPLATES
from pressroom.outbox.models import Channel
from pressroom.outbox.service import enqueue


def send_email(
    db: Session | Connection,
    *,
    to: str,
    template: str,
    context: dict[str, Any],
    org_id: uuid.UUID | None = None,
    when: bool = True,
) -> uuid.UUID:
    """Queue `template` (email/templates/) for `to`; rendered and sent by the worker."""
    if template not in TEMPLATES:
        raise ValueError(f"unknown e-mail template {template!r}")
    return enqueue(
        db,
        channel=Channel.EMAIL,
        event_type=f"email.{template}",
        payload={"to": to, "template": template, "context": context},
        org_id=org_id,
        when=when,
    )
