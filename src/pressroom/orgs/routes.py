"""Organizations and their members."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Response, status

from pressroom.auth.dependencies import CurrentPrincipal, CurrentUser, UserRequired
from pressroom.auth.principals import UserPrincipal
from pressroom.auth.users import User
from pressroom.billing.plans import FREE_PLAN, plan_now, plans_now
from pressroom.db.deps import DbSession
from pressroom.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    Unauthorized,
    error_responses,
)
from pressroom.orgs import service
from pressroom.orgs.access import CurrentOrg, OrgAccess, require, visible_orgs
from pressroom.orgs.models import Membership, Organization, Role
from pressroom.orgs.permissions import Permission
from pressroom.orgs.schemas import MemberOut, OrgCreate, OrgOut, OrgUpdate, RoleChange
from pressroom.pagination import Page, Pagination

router = APIRouter(prefix="/orgs", tags=["organizations"])

ORG_ERRORS = error_responses(Unauthorized, Forbidden, NotFound, InvalidInput)


def _org_out(org: Organization, plan: str, role: Role | None) -> OrgOut:
    return OrgOut(
        id=org.id,
        name=org.name,
        plan=plan,
        role=role,
        created_at=org.created_at,
        updated_at=org.updated_at,
    )


def _member_out(membership: Membership, user: User) -> MemberOut:
    return MemberOut(
        user_id=user.id,
        email=user.email,
        display_name=user.display_name,
        role=Role(membership.role),
        joined_at=membership.created_at,
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(Unauthorized, UserRequired, InvalidInput),
)
def create_org(body: OrgCreate, caller: CurrentUser, session: DbSession) -> OrgOut:
    """Create an organization; you become its owner. It starts on the free plan."""
    org = service.create_org(session, caller, name=body.name)
    session.refresh(org)
    return _org_out(org, FREE_PLAN, Role.OWNER)


@router.get("", responses=error_responses(Unauthorized, InvalidInput))
def list_orgs(principal: CurrentPrincipal, session: DbSession, page: Pagination) -> Page[OrgOut]:
    """The organizations you belong to (for an API key: its own)."""
    scope = visible_orgs(session, principal)
    orgs, cursor = service.list_orgs(session, scope, page)
    listed = scope.narrow([o.id for o in orgs])
    plans = {org_id: plan.name for org_id, plan in plans_now(session, listed).items()}
    roles = (
        service.roles_in(session, principal, listed) if isinstance(principal, UserPrincipal) else {}
    )
    return Page(items=[_org_out(o, plans[o.id], roles.get(o.id)) for o in orgs], next_cursor=cursor)


@router.get("/{org_id}", responses=ORG_ERRORS)
def get_org(
    access: Annotated[OrgAccess, require(Permission.ORG_READ)], session: DbSession
) -> OrgOut:
    plan = plan_now(session, access.scope).name
    return _org_out(access.org, plan, access.role)


@router.patch("/{org_id}", responses=ORG_ERRORS)
def update_org(
    body: OrgUpdate,
    access: Annotated[OrgAccess, require(Permission.ORG_UPDATE)],
    session: DbSession,
) -> OrgOut:
    org = service.update_org(session, access, name=body.name)
    session.refresh(org)
    plan = plan_now(session, access.scope).name
    return _org_out(org, plan, access.role)


@router.get("/{org_id}/members", responses=ORG_ERRORS)
def list_members(
    access: Annotated[OrgAccess, require(Permission.MEMBERS_READ)],
    session: DbSession,
    page: Pagination,
) -> Page[MemberOut]:
    members, cursor = service.list_members(session, access.scope, page)
    return Page(items=[_member_out(m, u) for m, u in members], next_cursor=cursor)


@router.patch(
    "/{org_id}/members/{user_id}",
    responses=error_responses(Unauthorized, Forbidden, NotFound, Conflict, InvalidInput),
)
def change_role(
    user_id: uuid.UUID,
    body: RoleChange,
    access: Annotated[OrgAccess, require(Permission.MEMBERS_MANAGE)],
    session: DbSession,
) -> MemberOut:
    """Change a member's role. Only owners may touch the owner role; one owner must remain."""
    membership, user = service.change_role(session, access, user_id, body.role)
    return _member_out(membership, user)


@router.delete(
    "/{org_id}/members/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(Unauthorized, Forbidden, NotFound, Conflict, InvalidInput),
)
def remove_member(user_id: uuid.UUID, access: CurrentOrg, session: DbSession) -> Response:
    """Remove a member (needs members:manage), or leave the org by giving your own id."""
    service.remove_member(session, access, user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
