"""Invitations: a single-use, expiring token that makes its email's account a member."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pressroom.accounts.models import User
from pressroom.accounts.service import normalize_email
from pressroom.auth.principals import UserPrincipal
from pressroom.auth.tokens import hash_secret, new_secret
from pressroom.errors import Conflict, Forbidden, NotFound
from pressroom.orgs.access import OrgAccess, PermissionDenied
from pressroom.orgs.models import Invitation, Membership, Role
from pressroom.pagination import PageParams, page_of

INVITATION_TOKEN_PREFIX = "pri_"  # noqa: S105 - a prefix, not a secret


class InvitationNotFound(NotFound):
    code = "invitation_not_found"


class InvitationForAnotherEmail(Forbidden):
    code, title = "invitation_email_mismatch", "Invitation for another email"


class AlreadyMember(Conflict):
    code = "already_member"


def _pending(now: datetime) -> list[ColumnElement[bool]]:
    return [
        Invitation.accepted_at.is_(None),
        Invitation.revoked_at.is_(None),
        Invitation.expires_at > now,
    ]


def create_invitation(
    session: Session, access: OrgAccess, *, email: str, role: Role, ttl_seconds: int
) -> tuple[Invitation, str]:
    """A new invitation and its token; a pending invitation to the same email is replaced."""
    if role == Role.OWNER and access.role != Role.OWNER:
        raise PermissionDenied("Only an owner may invite an owner.")
    email = normalize_email(email)
    member = session.scalar(
        select(Membership.id)
        .join(User, User.id == Membership.user_id)
        .where(Membership.org_id == access.org_id, User.email == email)
    )
    if member is not None:
        raise AlreadyMember("That person is already a member.")
    now = datetime.now(UTC)
    session.execute(
        update(Invitation)
        .where(Invitation.org_id == access.org_id, Invitation.email == email, *_pending(now))
        .values(revoked_at=now)
    )
    token = new_secret(INVITATION_TOKEN_PREFIX)
    invitation = Invitation(
        org_id=access.org_id,
        email=email,
        role=role,
        token_hash=hash_secret(token),
        invited_by=access.user.user.id if access.user else None,
        expires_at=now + timedelta(seconds=ttl_seconds),
    )
    session.add(invitation)
    session.flush()
    return invitation, token


def list_invitations(
    session: Session, org_id: uuid.UUID, page: PageParams
) -> tuple[list[Invitation], str | None]:
    query = select(Invitation).where(Invitation.org_id == org_id, *_pending(datetime.now(UTC)))
    return page_of(session, query, Invitation.id, page)


def revoke_invitation(session: Session, org_id: uuid.UUID, invitation_id: uuid.UUID) -> None:
    revoked = session.execute(
        update(Invitation)
        .where(
            Invitation.id == invitation_id,
            Invitation.org_id == org_id,
            *_pending(datetime.now(UTC)),
        )
        .values(revoked_at=datetime.now(UTC))
        .returning(Invitation.id)
    ).first()
    if revoked is None:
        raise InvitationNotFound("No pending invitation with that id.")


def accept_invitation(session: Session, caller: UserPrincipal, token: str) -> Membership:
    """Spend the token (once) and make the caller a member with the invited role."""
    now = datetime.now(UTC)
    token_hash = hash_secret(token)
    # One statement marks it used, so two concurrent accepts cannot both succeed.
    row = session.execute(
        update(Invitation)
        .where(
            Invitation.token_hash == token_hash,
            Invitation.email == caller.user.email,
            *_pending(now),
        )
        .values(accepted_at=now)
        .returning(Invitation.org_id, Invitation.role)
    ).first()
    if row is None:
        other = session.scalar(
            select(Invitation.email).where(Invitation.token_hash == token_hash, *_pending(now))
        )
        if other is not None:
            raise InvitationForAnotherEmail(
                "This invitation was sent to another email address; log in as that account."
            )
        raise InvitationNotFound("The invitation is invalid, used, revoked or expired.")
    org_id, role = row
    membership = Membership(org_id=org_id, user_id=caller.user.id, role=role)
    try:
        with session.begin_nested():
            session.add(membership)
    except IntegrityError:
        # Raising rolls the whole request back, so the invitation stays unused.
        raise AlreadyMember("You are already a member of this organization.") from None
    return membership
