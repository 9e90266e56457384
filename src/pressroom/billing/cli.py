"""`pressroom billing ...`: operate the webhook inbox."""

from __future__ import annotations

import uuid
from typing import Annotated

import typer
from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from pressroom.billing import dev_plan
from pressroom.billing.inbox import pending_count, reprocess
from pressroom.billing.plans import PlanCatalog, PlansFileError, get_catalog
from pressroom.billing.providers.registry import webhook_providers
from pressroom.config import get_settings
from pressroom.db.session import make_engine, unit_of_work
from pressroom.db.tenancy import SystemDuty, system_engine
from pressroom.db.url import resolve_database_url
from pressroom.errors import AppError

billing_app = typer.Typer(no_args_is_help=True, help="Billing: the payment-webhook inbox.")
dev_app = typer.Typer(no_args_is_help=True, help="Development only: shortcuts for trying things.")


def _catalog_and_engine() -> tuple[PlanCatalog, Engine]:
    """The plan catalog and a one-connection engine, or one `error:` line and exit 2."""
    try:
        catalog = get_catalog()
        url = resolve_database_url(quiet=True)
    except (PlansFileError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    return catalog, make_engine(url, pool_size=1)


@billing_app.command("reprocess")
def reprocess_command(
    event_id: Annotated[
        str | None, typer.Option(help="Only this provider event id (e.g. evt_...).")
    ] = None,
    provider: Annotated[str | None, typer.Option(help="Only this provider.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many events.")] = 1000,
) -> None:
    """Apply stored webhook events that are not applied yet (failed, or waiting for their
    org), oldest first. Exits 1 if any still fails; each keeps its error."""
    catalog, engine = _catalog_and_engine()
    try:
        factory = sessionmaker(bind=system_engine(engine, SystemDuty.PROVIDER_EVENTS))
        with unit_of_work(factory) as session:
            report = reprocess(
                session,
                webhook_providers(get_settings()),
                catalog,
                provider=provider,
                event_id=event_id,
                limit=limit,
            )
            left = pending_count(session)
    finally:
        engine.dispose()
    typer.echo(
        f"reprocessed {report.attempted} event(s): {report.processed} applied, "
        f"{report.failed} still failing; {left} not applied in total"
    )
    if report.failed:
        raise typer.Exit(1)


@dev_app.command("set-plan")
def set_plan_command(
    org_id: Annotated[uuid.UUID, typer.Argument(help="The organization's id.")],
    plan: Annotated[str, typer.Argument(help="A plan of the catalog: free, pro, business.")],
) -> None:
    """Put an org on a plan without a payment provider (refused in production)."""
    if get_settings().is_production:
        typer.echo(
            "error: `pressroom dev` is for development only (PRESSROOM_ENVIRONMENT=production);"
            " plans change through the payment provider there",
            err=True,
        )
        raise typer.Exit(2)
    catalog, engine = _catalog_and_engine()
    try:
        # An operator's command names its org itself: it runs as maintenance.
        factory = sessionmaker(bind=system_engine(engine, SystemDuty.MAINTENANCE))
        with unit_of_work(factory) as session:
            dev_plan.set_plan(session, org_id, plan, catalog)
    except AppError as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(2) from None
    finally:
        engine.dispose()
    typer.echo(f"organization {org_id} is on the {plan!r} plan")
