"""`pressroom mail ...`: read the development mailbox (mail sent with no SMTP server)."""

from __future__ import annotations

import uuid
from typing import Annotated

import typer
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from pressroom.db.session import make_engine
from pressroom.db.url import resolve_database_url
from pressroom.email import dev_mailbox
from pressroom.pagination import PageParams

mail_app = typer.Typer(no_args_is_help=True, help="The development mailbox.")


def _engine() -> Engine:
    try:
        return make_engine(resolve_database_url(quiet=True), pool_size=1)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


@mail_app.command("list")
def list_mail(
    limit: Annotated[int, typer.Option(min=1, help="The newest this many messages.")] = 20,
) -> None:
    """Messages the worker delivered to the dev mailbox, newest first."""
    engine = _engine()
    try:
        with Session(engine) as session:
            rows, _ = dev_mailbox.list_mail(session, PageParams(limit=limit))
    finally:
        engine.dispose()
    if not rows:
        typer.echo("the dev mailbox is empty", err=True)
    for m in rows:
        sent = m.created_at.isoformat(timespec="seconds")
        typer.echo(f"{m.id}  {sent}  {m.to_address}  {m.subject}")


@mail_app.command("show")
def show_mail(
    mail_id: Annotated[str, typer.Argument(help="An id from `pressroom mail list`.")],
    html: Annotated[bool, typer.Option(help="Print the HTML part instead of the text.")] = False,
) -> None:
    """Print one message (its text part, or --html)."""
    try:
        key = uuid.UUID(mail_id)
    except ValueError:
        typer.echo(f"error: not a message id: {mail_id}", err=True)
        raise typer.Exit(2) from None
    engine = _engine()
    try:
        with Session(engine) as session:
            m = dev_mailbox.get_mail(session, key)
    except dev_mailbox.MailNotFound:
        typer.echo(f"error: no message {mail_id}", err=True)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    typer.echo(f"To: {m.to_address}\nSubject: {m.subject}\nDate: {m.created_at.isoformat()}\n")
    typer.echo(m.html_body if html else m.text_body)
