"""Sending one message over SMTP, configured by one URL.

smtp://user:pass@host:587   STARTTLS when the server offers it (required before AUTH
                            unless the server is on loopback)
smtps://user:pass@host:465  implicit TLS
"""

from __future__ import annotations

import ipaddress
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from urllib.parse import unquote, urlsplit

from pressroom.email.templates import Rendered


class SmtpConfigError(ValueError):
    pass


@dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int
    implicit_tls: bool
    username: str | None
    password: str | None

    @classmethod
    def parse(cls, url: str) -> SmtpTarget:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise SmtpConfigError("PRESSROOM_SMTP_URL must look like smtp://user:pass@host:port")
        implicit = parts.scheme == "smtps"
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if implicit else 587),
            implicit_tls=implicit,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )

    @property
    def on_loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


def build_message(sender: str, to: str, rendered: Rendered) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = rendered.subject
    message["Message-ID"] = make_msgid(domain=sender.rsplit("@", 1)[-1].strip("> "))
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    return message


def send(target: SmtpTarget, message: EmailMessage, *, timeout: float) -> None:
    context = ssl.create_default_context()
    client: smtplib.SMTP
    if target.implicit_tls:
        client = smtplib.SMTP_SSL(target.host, target.port, timeout=timeout, context=context)
    else:
        client = smtplib.SMTP(target.host, target.port, timeout=timeout)
    with client:
        client.ehlo()
        if not target.implicit_tls and client.has_extn("starttls"):
            client.starttls(context=context)
            client.ehlo()
            encrypted = True
        else:
            encrypted = target.implicit_tls
        if target.username:
            if not encrypted and not target.on_loopback:
                raise smtplib.SMTPException(
                    "the SMTP server offers no STARTTLS: refusing to send the password in clear"
                )
            client.login(target.username, target.password or "")
        client.send_message(message)
