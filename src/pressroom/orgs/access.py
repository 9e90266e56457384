"""The one home of tenant scoping: which orgs a principal may see, and what it may do there.

Every route under /v1/orgs/{org_id}/... takes `CurrentOrg` (or `require(permission)`), which
resolves the org only if the caller belongs to it. An org the caller does not belong to
answers 404, exactly like an org that does not exist: no existence leak. Inside an org the
caller may lack a permission: that answers 403, since the caller already knows the org.

Services that read or write org-owned rows take an `OrgScope`, which only this module asks
for (polar's `AccessibleOrganizationID` is the model; the type sits in pressroom.db.tenancy,
below every feature). Making one also scopes the transaction in the database, so
row-level security admits that org's rows and no other's; the scope's `where()` writes the
same filter into the query, so a query is correct without the second wall, and the second
wall holds when a filter is forgotten.
tests/test_structure.py fails if an org filter is written anywhere else.

    @router.get("/orgs/{org_id}/jobs")
    def list_jobs(access: Annotated[OrgAccess, require(Permission.JOBS_READ)], ...):
        ... select(ContentJob).where(access.scope.where(ContentJob.org_id)) ...
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends
from sqlalchemy import select
from sqlalchemy.orm import Session

from pressroom.auth.dependencies import CurrentPrincipal
from pressroom.auth.principals import ApiKeyPrincipal, Principal, UserPrincipal
from pressroom.db.base import new_id
from pressroom.db.deps import DbSession
from pressroom.db.tenancy import OrgScope, SystemDuty, scope_to_orgs, system_duty
from pressroom.errors import Forbidden, NotFound
from pressroom.orgs.models import Membership, Organization, Role
from pressroom.orgs.permissions import Permission, role_permissions, scope_permissions


class OrgNotFound(NotFound):
    code = "org_not_found"


class PermissionDenied(Forbidden):
    code, title = "permission_denied", "Permission denied"


def new_org_scope(session: Session) -> OrgScope:
    """The scope of an org about to be created (its id chosen here) by its first owner."""
    return scope_to_orgs(session, [new_id()])


def invited_org_scope(session: Session, org_id: uuid.UUID) -> OrgScope:
    """The scope of the org whose invitation the caller has just spent (orgs.invitations)."""
    return scope_to_orgs(session, [org_id])


@dataclass(frozen=True)
class OrgAccess:
    """An org the caller belongs to, with the caller's role (users) and permissions."""

    org: Organization
    principal: Principal
    role: Role | None
    permissions: frozenset[Permission]
    scope: OrgScope

    @property
    def org_id(self) -> uuid.UUID:
        return self.org.id

    @property
    def user(self) -> UserPrincipal | None:
        return self.principal if isinstance(self.principal, UserPrincipal) else None

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions


def visible_orgs(session: Session, principal: Principal) -> OrgScope:
    """Every org the principal may see (the org listing), and the transaction scoped to them."""
    if isinstance(principal, ApiKeyPrincipal):
        return scope_to_orgs(session, [principal.org_id])
    with system_duty(session, SystemDuty.MEMBERSHIPS):
        org_ids = session.scalars(
            select(Membership.org_id).where(Membership.user_id == principal.user.id)
        ).all()
    return scope_to_orgs(session, list(org_ids))


def org_access(org_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession) -> OrgAccess:
    if isinstance(principal, ApiKeyPrincipal):
        # A key acts in its own org only; any other org does not exist for it.
        if principal.org_id != org_id:
            raise OrgNotFound("Organization not found.")
        scope = scope_to_orgs(session, [org_id])
        org = session.get(Organization, org_id)
        if org is None:
            raise OrgNotFound("Organization not found.")
        return OrgAccess(org, principal, None, scope_permissions(principal.scopes), scope)
    # Scoped before the membership is proven: the query below is what proves it, and a
    # caller who is no member gets the 404 and nothing else from this transaction.
    scope = scope_to_orgs(session, [org_id])
    row = session.execute(
        select(Organization, Membership.role)
        .join(Membership, Membership.org_id == Organization.id)
        .where(Organization.id == org_id, Membership.user_id == principal.user.id)
    ).first()
    if row is None:
        raise OrgNotFound("Organization not found.")
    org, role_name = row
    role = Role(role_name)
    return OrgAccess(org, principal, role, role_permissions(role), scope)


CurrentOrg = Annotated[OrgAccess, Depends(org_access)]


def ensure(access: OrgAccess, permission: Permission) -> OrgAccess:
    """`access`, if its caller may do `permission` there; else 403 (the caller knows the org)."""
    if not access.can(permission):
        raise PermissionDenied(f"This needs the '{permission.value}' permission.")
    return access


def require(permission: Permission) -> Any:
    """`Annotated[OrgAccess, require(Permission.X)]`: the org, if the caller may do X there."""

    # async: a check without I/O, not worth a thread-pool hop of its own.
    async def dependency(access: CurrentOrg) -> OrgAccess:
        return ensure(access, permission)

    dependency.__name__ = f"require_{permission.name.lower()}"
    return Depends(dependency)
