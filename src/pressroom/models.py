"""Imports every feature's models so `Base.metadata` holds the whole schema (for Alembic)."""

from pressroom.api_keys.models import ApiKey
from pressroom.auth.models import AuthSession, RateLimitBucket
from pressroom.auth.users import User
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
