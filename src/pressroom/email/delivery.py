"""The worker's side of e-mail: render the outbox row's template, send it over SMTP, or
into the dev mailbox when no SMTP server is configured (development only)."""

from __future__ import annotations

import smtplib
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Connection, Engine, insert

from pressroom.config import Settings
from pressroom.db.base import new_id
from pressroom.email import smtp
from pressroom.email.models import DevMail
from pressroom.email.templates import render
from pressroom.outbox.queue import Delivery
from pressroom.outbox.worker import Result

# A template may need work done at send time, in its own committed transaction (the
# password reset makes its token then, so the request did the same work for any address).
# It returns the context to render, or None: nothing to send.
Preparer = Callable[[Connection, str, dict[str, Any]], dict[str, Any] | None]


class EmailDeliverer:
    def __init__(
        self, engine: Engine, settings: Settings, preparers: Mapping[str, Preparer] | None = None
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.preparers = dict(preparers or {})
        url = settings.smtp_url.get_secret_value() if settings.smtp_url else None
        self.target = smtp.SmtpTarget.parse(url) if url else None

    def __call__(self, delivery: Delivery) -> Result:
        to = str(delivery.payload["to"])
        template = str(delivery.payload["template"])
        context: dict[str, Any] | None = dict(delivery.payload.get("context") or {})
        prepare = self.preparers.get(template)
        if prepare is not None:
            with self.engine.begin() as conn:
                context = prepare(conn, to, context or {})
            if context is None:
                return Result(True)
        rendered = render(template, context or {})
        if self.target is None:
            if self.settings.is_production:
                return Result(False, "no SMTP server configured (PRESSROOM_SMTP_URL)")
            with self.engine.begin() as conn:
                conn.execute(
                    insert(DevMail).values(
                        id=new_id(),
                        to_address=to,
                        subject=rendered.subject,
                        text_body=rendered.text,
                        html_body=rendered.html,
                    )
                )
            return Result(True)
        message = smtp.build_message(self.settings.mail_from, to, rendered)
        try:
            smtp.send(self.target, message, timeout=self.settings.smtp_timeout_seconds)
        except smtplib.SMTPRecipientsRefused as exc:
            return Result(False, f"recipient refused: {exc.recipients}", permanent=True)
        except (smtplib.SMTPException, OSError) as exc:
            return Result(False, f"SMTP: {type(exc).__name__}: {exc}")
        return Result(True)
