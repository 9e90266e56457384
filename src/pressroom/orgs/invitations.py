"""Invitations: a single-use, expiring token that makes its email's account a member."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pressroom.auth.accounts import normalize_email
from pressroom.auth.email_verification import require_verified
from pressroom.auth.principals import UserPrincipal
from pressroom.auth.users import User
from pressroom.db.tenancy import OrgScope, SystemDuty, system_duty
from pressroom.email.service import send_email
from pressroom.errors import Conflict, Forbidden, NotFound
from pressroom.hashed_secrets import hash_secret, new_secret
from pressroom.orgs.access import OrgAccess, PermissionDenied, invited_org_scope
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
    session: Session,
    access: OrgAccess,
    *,
    email: str,
    role: Role,
    ttl_seconds: int,
    public_url: str,
) -> tuple[Invitation, str]:
    """A new invitation and its token, mailed to the invitee with an accept link (the
    token is also returned, for API-only use); a pending invitation to the same email is
    replaced."""
    if role == Role.OWNER and access.role != Role.OWNER:
        raise PermissionDenied("Only an owner may invite an owner.")
    email = normalize_email(email)
    member = session.scalar(
        select(Membership.id)
        .join(User, User.id == Membership.user_id)
        .where(access.scope.where(Membership.org_id), User.email == email)
    )
    if member is not None:
        raise AlreadyMember("That person is already a member.")
    now = datetime.now(UTC)
    session.execute(
        update(Invitation)
        .where(access.scope.where(Invitation.org_id), Invitation.email == email, *_pending(now))
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
    send_email(
        session,
        to=email,
        template="invitation",
        org_id=access.org_id,
        context={
            "email": email,
            "org_name": access.org.name,
            "role": role.value,
            "inviter": access.user.user.email if access.user else None,
            "accept_url": f"{public_url.rstrip('/')}/invitations/accept?token={token}",
            "expires_at": invitation.expires_at.isoformat(timespec="minutes"),
        },
    )
    return invitation, token


def list_invitations(
    session: Session, scope: OrgScope, page: PageParams
) -> tuple[list[Invitation], str | None]:
    query = select(Invitation).where(scope.where(Invitation.org_id), *_pending(datetime.now(UTC)))
    return page_of(session, query, Invitation.id, page)


def revoke_invitation(session: Session, scope: OrgScope, invitation_id: uuid.UUID) -> None:
    revoked = session.execute(
        update(Invitation)
        .where(
            Invitation.id == invitation_id,
            scope.where(Invitation.org_id),
            *_pending(datetime.now(UTC)),
        )
        .values(revoked_at=datetime.now(UTC))
        .returning(Invitation.id)
    ).first()
    if revoked is None:
        raise InvitationNotFound("No pending invitation with that id.")


def accept_invitation(session: Session, caller: UserPrincipal, token: str) -> Membership:
    """Spend the token (once) and make the caller a member with the invited role."""
    require_verified(caller.user)
    now = datetime.now(UTC)
    token_hash = hash_secret(token)
    # Found by its token before its org is known: across orgs, for this one purpose.
    with system_duty(session, SystemDuty.INVITATIONS):
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
    scope = invited_org_scope(session, org_id)
    membership = Membership(org_id=scope.org_id, user_id=caller.user.id, role=role)
    try:
        with session.begin_nested():
            session.add(membership)
    except IntegrityError:
        # Raising rolls the whole request back, so the invitation stays unused.
        raise AlreadyMember("You are already a member of this organization.") from None
    return membership
