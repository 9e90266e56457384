"""`pressroom outbox ...`: see what waits or died, and replay dead deliveries."""

from __future__ import annotations

import uuid
from typing import Annotated

import typer
from sqlalchemy import Engine, select

from pressroom.auth import password_reset
from pressroom.config import Settings
from pressroom.db.session import make_engine
from pressroom.db.tenancy import SystemDuty, system_engine
from pressroom.db.url import resolve_database_url
from pressroom.email.delivery import EmailDeliverer
from pressroom.outbox import queue
from pressroom.outbox.models import OutboxMessage
from pressroom.outbox.worker import Deliverer, DeliveryLoop, LoopConfig
from pressroom.webhooks.delivery import WebhookDeliverer

outbox_app = typer.Typer(no_args_is_help=True, help="The outbox: webhook and e-mail deliveries.")


def _engine() -> Engine:
    try:
        # Dead and waiting deliveries of every org: an operator's maintenance duty.
        engine = make_engine(resolve_database_url(quiet=True), pool_size=1)
        return system_engine(engine, SystemDuty.MAINTENANCE)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


@outbox_app.command("dead")
def list_dead(
    limit: Annotated[int, typer.Option(min=1, help="The newest this many.")] = 50,
) -> None:
    """Deliveries given up on (retry window spent, or permanently refused), newest first."""
    engine = _engine()
    try:
        with engine.connect() as conn:
            s = queue.stats(conn)
            rows = conn.execute(
                select(
                    OutboxMessage.id,
                    OutboxMessage.channel,
                    OutboxMessage.event_type,
                    OutboxMessage.org_id,
                    OutboxMessage.attempts,
                    OutboxMessage.last_error,
                )
                .where(OutboxMessage.status == "dead")
                .order_by(OutboxMessage.updated_at.desc())
                .limit(limit)
            ).all()
    finally:
        engine.dispose()
    typer.echo(f"{s.depth} waiting; the oldest for {s.oldest_age_seconds:.0f} s", err=True)
    for row in rows:
        typer.echo("  ".join("-" if v is None else str(v) for v in row))


@outbox_app.command("replay")
def replay(
    delivery_id: Annotated[str, typer.Argument(help="A delivery id (see `outbox dead`).")],
) -> None:
    """Send a delivery again now, with a fresh retry window and the same event id."""
    try:
        key = uuid.UUID(delivery_id)
    except ValueError:
        typer.echo(f"error: not a delivery id: {delivery_id}", err=True)
        raise typer.Exit(2) from None
    engine = _engine()
    try:
        with engine.begin() as conn:
            done = queue.replay(conn, key, None)
    finally:
        engine.dispose()
    if not done:
        typer.echo("error: no such delivery, or it is being attempted right now", err=True)
        raise typer.Exit(1)
    typer.echo(f"delivery {key} queued again")


def delivery_loop(engine: Engine, settings: Settings) -> DeliveryLoop:
    """The loop with every channel's deliverer (`pressroom worker` runs it). Wired here, at
    the edge: the outbox below knows no channel, and the channels sit above it."""

    preparers = {password_reset.TEMPLATE: password_reset.preparer(settings)}
    deliverers: dict[str, Deliverer] = {
        "webhook": WebhookDeliverer(engine, settings),
        "email": EmailDeliverer(engine, settings, preparers),
    }
    return DeliveryLoop(engine, deliverers, LoopConfig.from_settings(settings))
