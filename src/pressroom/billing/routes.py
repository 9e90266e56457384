"""Org-scoped billing for the dashboard: the subscription, checkout and the billing portal."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from pressroom.billing import dashboard
from pressroom.billing.dashboard import PaymentProviderError
from pressroom.billing.schemas import (
    CheckoutRequest,
    PortalRequest,
    RedirectUrl,
    SubscriptionView,
)
from pressroom.config import AppSettings
from pressroom.db.deps import DbSession
from pressroom.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    ServiceUnavailable,
    error_responses,
)
from pressroom.orgs.access import OrgAccess, require
from pressroom.orgs.permissions import Permission

router = APIRouter(prefix="/orgs/{org_id}", tags=["billing"])

CanReadBilling = Annotated[OrgAccess, require(Permission.BILLING_READ)]
CanManageBilling = Annotated[OrgAccess, require(Permission.BILLING_MANAGE)]


@router.get(
    "/subscription",
    response_model=SubscriptionView,
    responses=error_responses(NotFound, Forbidden),
)
def get_subscription(access: CanReadBilling, session: DbSession) -> SubscriptionView:
    """The plan in force (with its limits), and the subscription behind it, if any."""
    return dashboard.subscription_view(session, access.org_id)


@router.post(
    "/billing/checkout",
    response_model=RedirectUrl,
    responses=error_responses(
        NotFound, Forbidden, InvalidInput, Conflict, PaymentProviderError, ServiceUnavailable
    ),
)
def create_checkout(
    access: CanManageBilling, session: DbSession, body: CheckoutRequest, settings: AppSettings
) -> RedirectUrl:
    """A hosted checkout page to subscribe the org to a paid plan."""
    return dashboard.create_checkout(
        session,
        access.org_id,
        body.plan,
        success_url=body.success_url,
        cancel_url=body.cancel_url,
        client=dashboard.stripe_client(settings),
    )


@router.post(
    "/billing/portal",
    response_model=RedirectUrl,
    responses=error_responses(NotFound, Forbidden, PaymentProviderError, ServiceUnavailable),
)
def create_portal(
    access: CanManageBilling, session: DbSession, body: PortalRequest, settings: AppSettings
) -> RedirectUrl:
    """The provider's billing portal, to change plan, payment method or cancel."""
    return dashboard.create_portal(
        session,
        access.org_id,
        return_url=body.return_url,
        client=dashboard.stripe_client(settings),
    )
