"""Inviting people into an organization, and accepting an invitation."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Response, status

from pressroom.auth.dependencies import CurrentUser, UserRequired
from pressroom.config import AppSettings
from pressroom.db.deps import DbSession
from pressroom.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    Unauthorized,
    error_responses,
)
from pressroom.orgs import invitations
from pressroom.orgs.access import OrgAccess, require
from pressroom.orgs.models import Role
from pressroom.orgs.permissions import Permission
from pressroom.orgs.routes import ORG_ERRORS
from pressroom.orgs.schemas import (
    InvitationAccept,
    InvitationCreate,
    InvitationCreated,
    InvitationOut,
    MemberOut,
)
from pressroom.pagination import Page, Pagination

router = APIRouter(tags=["invitations"])

Inviter = Annotated[OrgAccess, require(Permission.MEMBERS_INVITE)]


@router.post(
    "/orgs/{org_id}/invitations",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(Unauthorized, Forbidden, NotFound, Conflict, InvalidInput),
)
def create_invitation(
    body: InvitationCreate, access: Inviter, session: DbSession, settings: AppSettings
) -> InvitationCreated:
    """Invite an email address: the invitee is mailed an accept link. The token is also
    returned (once), for API-only use."""
    invitation, token = invitations.create_invitation(
        session,
        access,
        email=body.email,
        role=body.role,
        ttl_seconds=settings.invitation_ttl_seconds,
        public_url=settings.public_url,
    )
    return InvitationCreated(**InvitationOut.model_validate(invitation).model_dump(), token=token)


@router.get("/orgs/{org_id}/invitations", responses=ORG_ERRORS)
def list_invitations(access: Inviter, session: DbSession, page: Pagination) -> Page[InvitationOut]:
    """Pending invitations (not accepted, revoked or expired)."""
    items, cursor = invitations.list_invitations(session, access.scope, page)
    return Page(items=[InvitationOut.model_validate(i) for i in items], next_cursor=cursor)


@router.delete(
    "/orgs/{org_id}/invitations/{invitation_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=ORG_ERRORS,
)
def revoke_invitation(invitation_id: uuid.UUID, access: Inviter, session: DbSession) -> Response:
    invitations.revoke_invitation(session, access.scope, invitation_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/invitations/accept",
    responses=error_responses(Unauthorized, UserRequired, NotFound, Conflict, InvalidInput),
)
def accept_invitation(body: InvitationAccept, caller: CurrentUser, session: DbSession) -> MemberOut:
    """Join the organization you were invited to (log in as the invited email, and verify
    it, first)."""
    membership = invitations.accept_invitation(session, caller, body.token)
    user = caller.user
    return MemberOut(
        user_id=user.id,
        email=user.email,
        display_name=user.display_name,
        role=Role(membership.role),
        joined_at=membership.created_at,
    )
