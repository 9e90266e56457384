"""What an API key may be granted: machine work (its org's webhooks included), never
managing people, keys or billing.

Each value is also a permission of pressroom.orgs.permissions, which maps them.
"""

from __future__ import annotations

import enum


class ApiKeyScope(enum.StrEnum):
    ORG_READ = "org:read"
    JOBS_READ = "jobs:read"
    JOBS_WRITE = "jobs:write"
    USAGE_READ = "usage:read"
    WEBHOOKS_MANAGE = "webhooks:manage"  # its org's outbound webhook endpoints
