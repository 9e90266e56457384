"""Reading the development mailbox (`pressroom mail`, the dashboard's /dev/mail).

`dev_mail` is no org's table: it holds whatever the worker delivered with no SMTP server
configured, in development only, so reading it needs no org scope.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from pressroom.email.models import DevMail
from pressroom.errors import NotFound
from pressroom.pagination import PageParams, page_of


class MailNotFound(NotFound):
    code = "dev_mail_not_found"


def list_mail(session: Session, page: PageParams) -> tuple[list[DevMail], str | None]:
    """Newest first; `after` is the next page's cursor (older messages)."""
    return page_of(session, select(DevMail), DevMail.id, page, newest_first=True)


def get_mail(session: Session, mail_id: uuid.UUID) -> DevMail:
    mail = session.get(DevMail, mail_id)
    if mail is None:
        raise MailNotFound("No message with that id in the dev mailbox.")
    return mail
