"""The one home of tenant scoping: which orgs a principal may see, and what it may do there.

Every route under /v1/orgs/{org_id}/... takes `CurrentOrg` (or `require(permission)`), which
resolves the org only if the caller belongs to it. An org the caller does not belong to
answers 404, exactly like an org that does not exist: no existence leak. Inside an org the
caller may lack a permission: that answers 403, since the caller already knows the org.

    @router.get("/orgs/{org_id}/jobs")
    def list_jobs(access: Annotated[OrgAccess, require(Permission.JOBS_READ)], ...):
        ... query with .where(ContentJob.org_id == access.org_id) ...
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends
from sqlalchemy import Select, select

from pressroom.auth.dependencies import CurrentPrincipal
from pressroom.auth.principals import ApiKeyPrincipal, Principal, UserPrincipal
from pressroom.db.deps import DbSession
from pressroom.errors import Forbidden, NotFound
from pressroom.orgs.models import Membership, Organization, Role
from pressroom.orgs.permissions import Permission, role_permissions, scope_permissions


class OrgNotFound(NotFound):
    code = "org_not_found"


class PermissionDenied(Forbidden):
    code, title = "permission_denied", "Permission denied"


@dataclass(frozen=True)
class OrgAccess:
    """An org the caller belongs to, with the caller's role (users) and permissions."""

    org: Organization
    principal: Principal
    role: Role | None
    permissions: frozenset[Permission]

    @property
    def org_id(self) -> uuid.UUID:
        return self.org.id

    @property
    def user(self) -> UserPrincipal | None:
        return self.principal if isinstance(self.principal, UserPrincipal) else None

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions


def visible_org_ids(principal: Principal) -> Select[uuid.UUID]:
    """The approved filter: ids of every org the principal may see (use with `.in_()`)."""
    if isinstance(principal, ApiKeyPrincipal):
        return select(Organization.id).where(Organization.id == principal.org_id)
    return select(Membership.org_id).where(Membership.user_id == principal.user.id)


def org_access(org_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession) -> OrgAccess:
    if isinstance(principal, ApiKeyPrincipal):
        # A key acts in its own org only; any other org does not exist for it.
        org = session.get(Organization, org_id) if principal.org_id == org_id else None
        if org is None:
            raise OrgNotFound("Organization not found.")
        return OrgAccess(org, principal, None, scope_permissions(principal.scopes))
    row = session.execute(
        select(Organization, Membership.role)
        .join(Membership, Membership.org_id == Organization.id)
        .where(Organization.id == org_id, Membership.user_id == principal.user.id)
    ).first()
    if row is None:
        raise OrgNotFound("Organization not found.")
    org, role_name = row
    role = Role(role_name)
    return OrgAccess(org, principal, role, role_permissions(role))


CurrentOrg = Annotated[OrgAccess, Depends(org_access)]


def require(permission: Permission) -> Any:
    """`Annotated[OrgAccess, require(Permission.X)]`: the org, if the caller may do X there."""

    def dependency(access: CurrentOrg) -> OrgAccess:
        if not access.can(permission):
            raise PermissionDenied(f"This needs the '{permission.value}' permission.")
        return access

    dependency.__name__ = f"require_{permission.name.lower()}"
    return Depends(dependency)
