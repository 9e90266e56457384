"""Org-scoped billing for the dashboard: the subscription, checkout and the billing portal."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from pressroom.billing import checkout
from pressroom.billing.checkout import PaymentProviderError
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
    return checkout.subscription_view(session, access.scope)


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
    return checkout.create_checkout(
        session,
        access.scope,
        body.plan,
        success_url=body.success_url,
        cancel_url=body.cancel_url,
        client=checkout.stripe_client(settings),
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
    return checkout.create_portal(
        session,
        access.scope,
        return_url=body.return_url,
        client=checkout.stripe_client(settings),
    )
