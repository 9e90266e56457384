"""Imports every feature's models so `Base.metadata` holds the whole schema (for Alembic)."""

from pressroom.accounts.models import User
from pressroom.auth.models import ApiKey, AuthSession, RateLimitBucket
from pressroom.billing.models import BillingEvent, Subscription
from pressroom.db.base import Base
from pressroom.jobs.models import ContentArtifact, ContentJob
from pressroom.orgs.models import Invitation, Membership, Organization
from pressroom.usage.models import UsageCounter

__all__ = [
    "ApiKey",
    "AuthSession",
    "Base",
    "BillingEvent",
    "ContentArtifact",
    "ContentJob",
    "Invitation",
    "Membership",
    "Organization",
    "RateLimitBucket",
    "Subscription",
    "UsageCounter",
    "User",
]
