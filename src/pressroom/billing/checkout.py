"""Billing for the dashboard: the org's subscription view, and hosted checkout and portal
sessions created through the `stripe` SDK (base URL configurable, so tests and staging
can point it at a fake or a mock server).

Functions take (session, scope, ...) for the org-scoped routes; they read, never write
(the subscription row is written only by webhooks), and never commit.
"""

from __future__ import annotations

from typing import Any

import stripe
from sqlalchemy import select
from sqlalchemy.orm import Session

from pressroom.billing.models import ACCESS_STATUSES, Subscription
from pressroom.billing.plans import (
    FREE_PLAN,
    PlanCatalog,
    get_catalog,
    live_subscription,
)
from pressroom.billing.schemas import PlanLimits, RedirectUrl, SubscriptionView
from pressroom.config import Settings, get_settings
from pressroom.db.tenancy import OrgScope
from pressroom.errors import AppError, Conflict, InvalidInput, NotFound, ServiceUnavailable

PROVIDER = "stripe"


class PaymentProviderError(AppError):
    status, code, title = 502, "payment_provider_error", "Payment provider error"


def stripe_client(settings: Settings | None = None) -> stripe.StripeClient:
    settings = settings or get_settings()
    if not settings.stripe_api_key:
        raise ServiceUnavailable("billing is not configured (PRESSROOM_STRIPE_API_KEY)")
    return stripe.StripeClient(
        settings.stripe_api_key,
        base_addresses={"api": settings.stripe_api_base.rstrip("/")},
        max_network_retries=2,
    )


def _latest(session: Session, scope: OrgScope) -> Subscription | None:
    return session.scalars(
        select(Subscription)
        .where(scope.where(Subscription.org_id))
        .order_by(Subscription.state_as_of.desc().nulls_last(), Subscription.created_at.desc())
        .limit(1)
    ).first()


def subscription_view(
    session: Session, scope: OrgScope, *, catalog: PlanCatalog | None = None
) -> SubscriptionView:
    """The live subscription if there is one, else the most recent (e.g. canceled)."""
    catalog = catalog or get_catalog()
    sub = live_subscription(session, scope) or _latest(session, scope)
    has_access = sub is not None and sub.status in ACCESS_STATUSES
    plan = catalog.get(sub.plan) if has_access and sub else catalog.plans[FREE_PLAN]
    return SubscriptionView(
        org_id=scope.org_id,
        plan=PlanLimits.of(plan),
        has_access=has_access,
        status=sub.status if sub else None,
        provider=sub.provider if sub else None,
        subscribed_plan=sub.plan if sub else None,
        current_period_start=sub.current_period_start if sub else None,
        current_period_end=sub.current_period_end if sub else None,
        cancel_at_period_end=sub.cancel_at_period_end if sub else False,
        canceled_at=sub.canceled_at if sub else None,
    )


def _customer_id(session: Session, scope: OrgScope) -> str | None:
    return session.execute(
        select(Subscription.provider_customer_id)
        .where(
            scope.where(Subscription.org_id),
            Subscription.provider == PROVIDER,
            Subscription.provider_customer_id.is_not(None),
        )
        .order_by(Subscription.created_at.desc())
        .limit(1)
    ).scalar()


def _call(create: Any, params: dict[str, Any]) -> RedirectUrl:
    try:
        result = create(params=params)
    except stripe.StripeError as exc:
        # The provider's message is for us, not the customer; the status says who failed.
        if exc.http_status is not None and exc.http_status < 500:
            raise PaymentProviderError(f"Stripe rejected the request: {exc.user_message}") from exc
        raise ServiceUnavailable("the payment provider is unavailable; try again") from exc
    url = getattr(result, "url", None)
    if not isinstance(url, str) or not url:
        raise PaymentProviderError("Stripe returned a session without a url")
    return RedirectUrl(url=url, session_id=str(getattr(result, "id", "")))


def create_checkout(
    session: Session,
    scope: OrgScope,
    plan_name: str,
    *,
    success_url: str,
    cancel_url: str,
    client: stripe.StripeClient | None = None,
    catalog: PlanCatalog | None = None,
) -> RedirectUrl:
    """A hosted Stripe Checkout for `plan_name`; the org is named three ways so that
    whichever webhook arrives first can place the subscription (docs/billing.md)."""
    catalog = catalog or get_catalog()
    plan = catalog.plans.get(plan_name)
    if plan is None:
        raise InvalidInput(f"plan: unknown plan {plan_name!r}", extra={"field": "plan"})
    if not plan.stripe_price_ids:
        raise InvalidInput(f"plan: {plan_name!r} cannot be bought", extra={"field": "plan"})
    live = live_subscription(session, scope)
    if live is not None and live.plan != FREE_PLAN:
        raise Conflict("the organization already has a subscription; change it in the portal")
    org = str(scope.org_id)
    params: dict[str, Any] = {
        "mode": "subscription",
        "line_items": [{"price": plan.stripe_price_ids[0], "quantity": 1}],
        "success_url": success_url,
        "cancel_url": cancel_url,
        "client_reference_id": org,
        "metadata": {"org_id": org},
        "subscription_data": {"metadata": {"org_id": org}},
    }
    customer = _customer_id(session, scope)
    if customer is not None:
        params["customer"] = customer
    client = client or stripe_client()
    return _call(client.v1.checkout.sessions.create, params)


def create_portal(
    session: Session,
    scope: OrgScope,
    *,
    return_url: str,
    client: stripe.StripeClient | None = None,
) -> RedirectUrl:
    """A Stripe customer-portal session for the org's billing account."""
    customer = _customer_id(session, scope)
    if customer is None:
        raise NotFound("the organization has no billing account yet; subscribe first")
    client = client or stripe_client()
    return _call(
        client.v1.billing_portal.sessions.create,
        {"customer": customer, "return_url": return_url},
    )
