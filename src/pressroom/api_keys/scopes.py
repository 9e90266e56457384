"""What an API key may be granted: machine work, never managing people, keys or billing.

Each value is also a permission of pressroom.orgs.permissions, which maps them.
"""

from __future__ import annotations

import enum


class ApiKeyScope(enum.StrEnum):
    ORG_READ = "org:read"
    JOBS_READ = "jobs:read"
    JOBS_WRITE = "jobs:write"
    USAGE_READ = "usage:read"
