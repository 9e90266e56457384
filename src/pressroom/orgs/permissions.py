"""Who may do what in an organization: the one table (mirrored in docs/authorization.md).

A user's permissions in an org are those of their role; an API key's are its scopes, which
are drawn from `API_KEY_SCOPES`. Rules that depend on the target as well as the caller (only
an owner may touch an owner; the last owner stays) live in orgs/service.py.
"""

from __future__ import annotations

import enum

from pressroom.api_keys.scopes import ApiKeyScope
from pressroom.orgs.models import Role


class Permission(enum.StrEnum):
    ORG_READ = "org:read"
    ORG_UPDATE = "org:update"
    MEMBERS_READ = "members:read"
    MEMBERS_INVITE = "members:invite"
    MEMBERS_MANAGE = "members:manage"
    API_KEYS_MANAGE = "api_keys:manage"
    JOBS_READ = "jobs:read"
    JOBS_WRITE = "jobs:write"
    USAGE_READ = "usage:read"
    BILLING_READ = "billing:read"
    BILLING_MANAGE = "billing:manage"
    WEBHOOKS_MANAGE = "webhooks:manage"


_EVERYONE = frozenset(Role)
_MANAGERS = frozenset({Role.OWNER, Role.ADMIN})
_OWNERS = frozenset({Role.OWNER})

PERMISSIONS: dict[Permission, frozenset[Role]] = {
    Permission.ORG_READ: _EVERYONE,
    Permission.ORG_UPDATE: _MANAGERS,
    Permission.MEMBERS_READ: _EVERYONE,
    Permission.MEMBERS_INVITE: _MANAGERS,
    Permission.MEMBERS_MANAGE: _MANAGERS,
    Permission.API_KEYS_MANAGE: _MANAGERS,
    Permission.JOBS_READ: _EVERYONE,
    Permission.JOBS_WRITE: _EVERYONE,
    Permission.USAGE_READ: _EVERYONE,
    Permission.BILLING_READ: _MANAGERS,
    Permission.BILLING_MANAGE: _OWNERS,
    Permission.WEBHOOKS_MANAGE: _MANAGERS,
}


# Every scope a key may hold is one of the permissions above (checked on import).
API_KEY_SCOPES: frozenset[Permission] = frozenset(Permission(s.value) for s in ApiKeyScope)


def role_permissions(role: Role) -> frozenset[Permission]:
    return frozenset(p for p, roles in PERMISSIONS.items() if role in roles)


def scope_permissions(scopes: frozenset[str]) -> frozenset[Permission]:
    return frozenset(p for p in API_KEY_SCOPES if p.value in scopes)
