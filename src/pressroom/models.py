"""Imports every feature's models so `Base.metadata` holds the whole schema (for Alembic)."""

from pressroom.api_keys.models import ApiKey
from pressroom.auth.models import AccountToken, AuthSession, RateLimitBucket
from pressroom.auth.users import User
from pressroom.billing.models import BillingEvent, Subscription
from pressroom.db.base import Base
from pressroom.email.models import DevMail
from pressroom.jobs.models import ContentArtifact, ContentJob, JobStatusCount
from pressroom.orgs.models import Invitation, Membership, Organization
from pressroom.outbox.models import OutboxMessage
from pressroom.usage.models import UsageCounter
from pressroom.webhooks.models import WebhookAttempt, WebhookEndpoint

__all__ = [
    "AccountToken",
    "ApiKey",
    "AuthSession",
    "Base",
    "BillingEvent",
    "ContentArtifact",
    "ContentJob",
    "DevMail",
    "Invitation",
    "JobStatusCount",
    "Membership",
    "Organization",
    "OutboxMessage",
    "RateLimitBucket",
    "Subscription",
    "UsageCounter",
    "User",
    "WebhookAttempt",
    "WebhookEndpoint",
]
