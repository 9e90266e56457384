"""The providers this deployment accepts webhooks from, built from settings."""

from __future__ import annotations

from pressroom.billing.providers.base import WebhookProvider, split_secrets
from pressroom.billing.providers.paddle import PaddleProvider
from pressroom.billing.providers.stripe import StripeProvider
from pressroom.config import Settings


def webhook_providers(settings: Settings) -> dict[str, WebhookProvider]:
    tolerance = settings.webhook_tolerance_seconds
    return {
        "stripe": StripeProvider(split_secrets(settings.stripe_webhook_secret), tolerance),
        "paddle": PaddleProvider(split_secrets(settings.paddle_webhook_secret), tolerance),
    }
