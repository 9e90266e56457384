"""Usage against the quota (with a chart drawn here, as SVG) and billing."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Request
from starlette.responses import Response

from pressroom.billing import checkout as billing
from pressroom.billing.plans import get_catalog
from pressroom.errors import AppError
from pressroom.orgs.permissions import Permission
from pressroom.usage import service as usage
from pressroom.web.core import Form, Org, WebDb, WebRoute, org_page, redirect, rejected, render

router = APIRouter(route_class=WebRoute)

UsageReader = Annotated[Org, org_page(Permission.USAGE_READ)]
BillingReader = Annotated[Org, org_page(Permission.BILLING_READ)]
BillingManager = Annotated[Org, org_page(Permission.BILLING_MANAGE)]

HISTORY_MONTHS = 12


@dataclass(frozen=True)
class Chart:
    """The month's cumulative usage against the quota, in SVG user units (escaped by Jinja)."""

    width: int
    height: int
    points: str  # the cumulative line's "x,y x,y ..."
    bars: list[tuple[float, float, float, int, date]]  # x, y, height, count, day
    quota_y: float
    bar_width: float
    days: int


def chart(period: date, daily: list[tuple[date, int]], quota: int) -> Chart:
    width, height, top = 600, 200, 10
    days = calendar.monthrange(period.year, period.month)[1]
    per_day = dict(daily)
    total = sum(per_day.values())
    scale_max = max(quota, total, 1)
    step = width / days

    def y(value: int) -> float:
        return round(height - (height - top) * value / scale_max, 1)

    cumulative, points, bars = 0, [f"0,{y(0)}"], []
    busiest = max(per_day.values(), default=1)
    for index in range(days):
        day = date(period.year, period.month, index + 1)
        count = per_day.get(day, 0)
        cumulative += count
        x = round(step * index, 1)
        if day <= max(per_day, default=period):
            points.append(f"{round(x + step / 2, 1)},{y(cumulative)}")
        bar_height = round((height - top) * 0.4 * count / busiest, 1)
        bars.append((x, round(height - bar_height, 1), bar_height, count, day))
    return Chart(width, height, " ".join(points), bars, y(quota), round(step * 0.7, 1), days)


@router.get("/orgs/{org_id}/usage")
def usage_page(request: Request, org: UsageReader, session: WebDb) -> Response:
    summary = usage.summary(session, org.scope, history_months=HISTORY_MONTHS)
    daily = usage.daily_usage(session, org.scope, summary.period)
    return render(
        request,
        "usage.html",
        summary=summary,
        chart=chart(summary.period, daily, summary.limit),
        percent=min(100, round(100 * summary.used / summary.limit)) if summary.limit else 100,
    )


def _billing_page(
    request: Request, org: Org, session: WebDb, status: int = 200, **context: object
) -> Response:
    catalog = get_catalog()
    buyable = [p for p in catalog.plans.values() if p.stripe_price_ids]
    return render(
        request,
        "billing.html",
        status,
        view=billing.subscription_view(session, org.scope, catalog=catalog),
        plans=buyable,
        can_manage=org.access.can(Permission.BILLING_MANAGE),
        **context,
    )


@router.get("/orgs/{org_id}/billing")
def billing_page(request: Request, org: BillingReader, session: WebDb) -> Response:
    return _billing_page(request, org, session)


def _here(request: Request, org: Org) -> str:
    return str(request.url_for("billing_page", org_id=org.id))


@router.post("/orgs/{org_id}/billing/checkout")
def checkout(request: Request, org: BillingManager, session: WebDb, form: Form) -> Response:
    try:
        target = billing.create_checkout(
            session,
            org.scope,
            str(form.get("plan", "")),
            success_url=_here(request, org) + "?checkout=done",
            cancel_url=_here(request, org),
            client=billing.stripe_client(request.app.state.settings),
        )
    except AppError as exc:
        errors = rejected(session, exc)
        return _billing_page(request, org, session, exc.status, errors=errors)
    return redirect(target.url)


@router.post("/orgs/{org_id}/billing/portal")
def portal(request: Request, org: BillingManager, session: WebDb, form: Form) -> Response:
    try:
        target = billing.create_portal(
            session,
            org.scope,
            return_url=_here(request, org),
            client=billing.stripe_client(request.app.state.settings),
        )
    except AppError as exc:
        errors = rejected(session, exc)
        return _billing_page(request, org, session, exc.status, errors=errors)
    return redirect(target.url)
