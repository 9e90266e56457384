"""`pressroom jobs ...`: operate on the job table."""

from __future__ import annotations

from typing import Annotated

import typer

from pressroom.billing.plans import PlansFileError, get_catalog
from pressroom.config import get_settings
from pressroom.db.session import make_engine
from pressroom.db.tenancy import SystemDuty, system_engine
from pressroom.db.url import resolve_database_url
from pressroom.jobs import retention

jobs_app = typer.Typer(no_args_is_help=True, help="Jobs: retention.")


@jobs_app.command("prune")
def prune_command(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only count what would be pruned.")
    ] = False,
    batch_size: Annotated[
        int | None, typer.Option(min=1, max=10_000, help="Jobs per transaction.")
    ] = None,
    max_seconds: Annotated[
        float, typer.Option(min=0.1, help="Stop after this long (run again to go on).")
    ] = 600.0,
) -> None:
    """Blank the input and delete the artifacts of finished jobs past their org's plan's
    retention (workers do this in the background; see docs/retention.md)."""
    try:
        catalog = get_catalog()
        url = resolve_database_url(quiet=True)
    except (PlansFileError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    days = ", ".join(f"{name} {plan.retention_days} d" for name, plan in catalog.plans.items())
    # Retention walks every org: the operators' maintenance duty.
    engine = system_engine(make_engine(url, pool_size=1), SystemDuty.MAINTENANCE)
    try:
        if dry_run:
            found = retention.pending(engine, catalog)
            verb = "would prune"
        else:
            size = batch_size or get_settings().retention_batch_size
            pruner = retention.Pruner(engine, batch_size=size, catalog=catalog)
            found = pruner.run(max_seconds=max_seconds)
            verb = "pruned"
    finally:
        engine.dispose()
    typer.echo(
        f"{verb} {found.jobs} jobs' content: {found.artifacts} artifacts, "
        f"{found.artifact_bytes} bytes (retention: {days})"
    )
