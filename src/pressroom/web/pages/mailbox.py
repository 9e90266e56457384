"""The dev mailbox: the mail the worker delivered with no SMTP server, readable in the
browser (as `pressroom mail list/show` is in a terminal), in development only.

Any signed-in user may read it: it holds every account's mail, which is fine for a
developer's own machine and is why production answers 404 (before asking who is calling,
so it does not even say it exists).
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from pressroom.email import dev_mailbox
from pressroom.errors import NotFound
from pressroom.pagination import MAX_CURSOR_LENGTH, PageParams
from pressroom.web.core import WebDb, WebRoute, WebUser, render, settings_of

LIST_LIMIT = 25
# Prepended to the HTML part shown in the frame: its links open a new tab, outside the
# sandbox (the frame itself may not be navigated to our pages: they refuse to be framed).
FRAME_BASE = '<base target="_blank">'


def development_only(request: Request) -> None:
    if settings_of(request).is_production:
        raise NotFound("No such page.")


router = APIRouter(route_class=WebRoute, dependencies=[Depends(development_only)])


@router.get("/dev/mail")
def mailbox(request: Request, user: WebUser, session: WebDb, after: str | None = None) -> Response:
    page = PageParams(limit=LIST_LIMIT, after=after[:MAX_CURSOR_LENGTH] if after else None)
    messages, cursor = dev_mailbox.list_mail(session, page)
    return render(
        request,
        "mailbox.html",
        messages=messages,
        more=f"/dev/mail?after={cursor}" if cursor else None,  # a UUID: nothing to quote
        newest="/dev/mail" if after else None,
    )


@router.get("/dev/mail/{mail_id}")
def message(request: Request, mail_id: uuid.UUID, user: WebUser, session: WebDb) -> Response:
    mail = dev_mailbox.get_mail(session, mail_id)
    return render(request, "mail.html", mail=mail, frame=FRAME_BASE + mail.html_body)
