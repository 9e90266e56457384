"""Organizations and memberships.

Role rules beyond the permission table: only an owner may make, demote or remove an owner;
an org always keeps at least one owner; anyone may leave an org (unless they are its last
owner).
"""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pressroom.auth.principals import UserPrincipal
from pressroom.auth.users import User
from pressroom.db.tenancy import OrgScope
from pressroom.errors import Conflict, NotFound
from pressroom.orgs.access import OrgAccess, PermissionDenied, new_org_scope
from pressroom.orgs.models import Membership, Organization, Role
from pressroom.orgs.permissions import Permission
from pressroom.pagination import PageParams, page_of


class MemberNotFound(NotFound):
    code = "member_not_found"


class LastOwner(Conflict):
    code, title = "last_owner", "An organization needs an owner"


def create_org(session: Session, caller: UserPrincipal, *, name: str) -> Organization:
    """A new org on the free plan (no subscription row), with the caller as its owner."""
    scope = new_org_scope(session)
    org = Organization(id=scope.org_id, name=name)
    session.add(org)
    session.flush()
    session.add(Membership(org_id=scope.org_id, user_id=caller.user.id, role=Role.OWNER))
    session.flush()
    return org


def list_orgs(
    session: Session, scope: OrgScope, page: PageParams
) -> tuple[list[Organization], str | None]:
    query = select(Organization).where(scope.where(Organization.id))
    return page_of(session, query, Organization.id, page)


def roles_in(session: Session, caller: UserPrincipal, scope: OrgScope) -> dict[uuid.UUID, Role]:
    rows = session.execute(
        select(Membership.org_id, Membership.role).where(
            Membership.user_id == caller.user.id, scope.where(Membership.org_id)
        )
    )
    return {org_id: Role(role) for org_id, role in rows}


def update_org(session: Session, access: OrgAccess, *, name: str | None) -> Organization:
    if name is not None:
        access.org.name = name
    session.flush()
    return access.org


def list_members(
    session: Session, scope: OrgScope, page: PageParams
) -> tuple[list[tuple[Membership, User]], str | None]:
    query = select(Membership).where(scope.where(Membership.org_id))
    memberships, cursor = page_of(session, query, Membership.id, page)
    users = {
        u.id: u
        for u in session.scalars(select(User).where(User.id.in_([m.user_id for m in memberships])))
    }
    return [(m, users[m.user_id]) for m in memberships], cursor


def get_member(session: Session, scope: OrgScope, user_id: uuid.UUID) -> tuple[Membership, User]:
    row = session.execute(
        select(Membership, User)
        .join(User, User.id == Membership.user_id)
        .where(scope.where(Membership.org_id), Membership.user_id == user_id)
    ).first()
    if row is None:
        raise MemberNotFound("Member not found.")
    return row[0], row[1]


def _lock_memberships(session: Session, scope: OrgScope) -> None:
    # Role changes in one org queue behind each other, so two owners demoting each other
    # at the same moment cannot leave the org with none.
    session.execute(select(Organization.id).where(scope.where(Organization.id)).with_for_update())


def _owner_count(session: Session, scope: OrgScope) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(Membership)
            .where(scope.where(Membership.org_id), Membership.role == Role.OWNER)
        )
        or 0
    )


def _check_may_manage(access: OrgAccess, target: Membership, new_role: Role | None) -> None:
    if not access.can(Permission.MEMBERS_MANAGE):
        raise PermissionDenied(f"This needs the '{Permission.MEMBERS_MANAGE.value}' permission.")
    touches_owner = target.role == Role.OWNER or new_role == Role.OWNER
    if touches_owner and access.role != Role.OWNER:
        raise PermissionDenied("Only an owner may grant, change or remove the owner role.")


def change_role(
    session: Session, access: OrgAccess, user_id: uuid.UUID, role: Role
) -> tuple[Membership, User]:
    _lock_memberships(session, access.scope)
    membership, user = get_member(session, access.scope, user_id)
    _check_may_manage(access, membership, role)
    demoting_owner = membership.role == Role.OWNER and role != Role.OWNER
    if demoting_owner and _owner_count(session, access.scope) <= 1:
        raise LastOwner("The last owner cannot be demoted; make someone else owner first.")
    membership.role = role
    session.flush()
    return membership, user


def remove_member(session: Session, access: OrgAccess, user_id: uuid.UUID) -> None:
    """Remove someone (needs members:manage), or leave (anyone, for themselves)."""
    _lock_memberships(session, access.scope)
    membership, _ = get_member(session, access.scope, user_id)
    leaving = access.user is not None and access.user.user.id == user_id
    if not leaving:
        _check_may_manage(access, membership, None)
    if membership.role == Role.OWNER and _owner_count(session, access.scope) <= 1:
        raise LastOwner("The last owner cannot leave or be removed; make someone else owner first.")
    session.delete(membership)
    session.flush()
