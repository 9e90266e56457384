"""Organizations: create and switch, members and roles, invitations, API keys."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import Response

from pressroom.api_keys import service as api_keys
from pressroom.api_keys.schemas import ApiKeyCreate
from pressroom.api_keys.scopes import ApiKeyScope
from pressroom.billing.plans import plans_now
from pressroom.errors import AppError
from pressroom.orgs import invitations
from pressroom.orgs import service as orgs
from pressroom.orgs.access import visible_orgs
from pressroom.orgs.models import Role
from pressroom.orgs.permissions import Permission
from pressroom.orgs.schemas import InvitationCreate, OrgCreate, RoleChange
from pressroom.pagination import PageParams
from pressroom.web.core import (
    Form,
    MaybeUser,
    Org,
    WebDb,
    WebRoute,
    WebUser,
    form_error,
    login_redirect,
    org_page,
    parse,
    redirect,
    rejected,
    render,
)

router = APIRouter(route_class=WebRoute)

# A dashboard page lists this many; the rest is one "more" link away.
PAGE = PageParams(limit=100, after=None)

OrgReader = Annotated[Org, org_page(Permission.ORG_READ)]
MembersReader = Annotated[Org, org_page(Permission.MEMBERS_READ)]
MembersManager = Annotated[Org, org_page(Permission.MEMBERS_MANAGE)]
Inviter = Annotated[Org, org_page(Permission.MEMBERS_INVITE)]
KeyManager = Annotated[Org, org_page(Permission.API_KEYS_MANAGE)]


def _orgs_page(request: Request, user: WebUser, session: WebDb, **context: Any) -> Response:
    scope = visible_orgs(session, user)
    items, _ = orgs.list_orgs(session, scope, PAGE)
    listed = scope.narrow([o.id for o in items])
    plans = plans_now(session, listed)
    roles = orgs.roles_in(session, user, listed)
    rows = [(o, plans[o.id].name, roles.get(o.id)) for o in items]
    status = context.pop("status_code", 200)
    return render(request, "orgs.html", status, orgs=rows, **context)


@router.get("/orgs")
def org_list(request: Request, user: WebUser, session: WebDb) -> Response:
    return _orgs_page(request, user, session, values={})


@router.post("/orgs")
def create_org(request: Request, user: WebUser, session: WebDb, form: Form) -> Response:
    try:
        body = parse(OrgCreate, form)
    except ValidationError as exc:
        errors = rejected(session, exc)
        return _orgs_page(request, user, session, values=form, errors=errors, status_code=422)
    org = orgs.create_org(session, user, name=body.name)
    return redirect(f"/orgs/{org.id}/jobs")


@router.get("/orgs/{org_id}")
def org_home(org: OrgReader) -> Response:
    return redirect(f"/orgs/{org.id}/jobs")


def _members_page(
    request: Request, org: Org, session: WebDb, status: int = 200, **context: Any
) -> Response:
    members, _ = orgs.list_members(session, org.scope, PAGE)
    pending = (
        invitations.list_invitations(session, org.scope, PAGE)[0]
        if org.access.can(Permission.MEMBERS_INVITE)
        else []
    )
    context.setdefault("values", {})
    return render(
        request,
        "members.html",
        status,
        members=members,
        invitations=pending,
        roles=list(Role),
        **context,
    )


@router.get("/orgs/{org_id}/members")
def members(request: Request, org: MembersReader, session: WebDb) -> Response:
    return _members_page(request, org, session)


@router.post("/orgs/{org_id}/invitations")
def invite(request: Request, org: Inviter, session: WebDb, form: Form) -> Response:
    try:
        body = parse(InvitationCreate, form)
        _, token = invitations.create_invitation(
            session,
            org.access,
            email=body.email,
            role=body.role,
            ttl_seconds=request.app.state.settings.invitation_ttl_seconds,
            public_url=request.app.state.settings.public_url,
        )
    except (AppError, ValidationError) as exc:
        errors = rejected(session, exc)
        status = exc.status if isinstance(exc, AppError) else 422
        return _members_page(request, org, session, status, values=form, errors=errors)
    # The invitee is e-mailed the link too; shown once here for handing over by hand.
    link = str(request.url_for("accept_page").include_query_params(token=token))
    return _members_page(request, org, session, invite_link=link, invited=body.email)


@router.post("/orgs/{org_id}/invitations/{invitation_id}/revoke")
def revoke_invitation(
    invitation_id: uuid.UUID, org: Inviter, session: WebDb, form: Form
) -> Response:
    invitations.revoke_invitation(session, org.scope, invitation_id)
    return redirect(f"/orgs/{org.id}/members")


@router.post("/orgs/{org_id}/members/{user_id}/role")
def change_role(
    request: Request, user_id: uuid.UUID, org: MembersManager, session: WebDb, form: Form
) -> Response:
    try:
        body = parse(RoleChange, form)
        orgs.change_role(session, org.access, user_id, body.role)
    except (AppError, ValidationError) as exc:
        errors = rejected(session, exc)
        status = exc.status if isinstance(exc, AppError) else 422
        return _members_page(request, org, session, status, errors=errors)
    return redirect(f"/orgs/{org.id}/members")


@router.post("/orgs/{org_id}/members/{user_id}/remove")
def remove_member(
    request: Request, user_id: uuid.UUID, org: MembersReader, session: WebDb, form: Form
) -> Response:
    """Remove someone (members:manage), or leave: the service decides, as for the API."""
    try:
        orgs.remove_member(session, org.access, user_id)
    except AppError as exc:
        errors = rejected(session, exc)
        return _members_page(request, org, session, exc.status, errors=errors)
    leaving = org.access.user is not None and org.access.user.user.id == user_id
    return redirect("/orgs" if leaving else f"/orgs/{org.id}/members")


@router.get("/invitations/accept", name="accept_page")
def accept_page(request: Request, user: MaybeUser, token: str = "") -> Response:
    if user is None:
        return login_redirect(request)
    return render(request, "accept.html", token=token[:256])


@router.post("/invitations/accept")
def accept(request: Request, user: WebUser, session: WebDb, form: Form) -> Response:
    token = str(form.get("token", ""))[:256]
    try:
        membership = invitations.accept_invitation(session, user, token)
    except AppError as exc:
        return form_error(request, session, "accept.html", exc, {}, token=token)
    return redirect(f"/orgs/{membership.org_id}/jobs")


def _keys_page(
    request: Request, org: Org, session: WebDb, status: int = 200, **context: Any
) -> Response:
    keys, _ = api_keys.list_api_keys(session, org.scope, PAGE)
    context.setdefault("values", {})
    return render(request, "api_keys.html", status, keys=keys, scopes=list(ApiKeyScope), **context)


@router.get("/orgs/{org_id}/api-keys")
def keys(request: Request, org: KeyManager, session: WebDb) -> Response:
    return _keys_page(request, org, session)


@router.post("/orgs/{org_id}/api-keys")
def create_key(
    request: Request, org: KeyManager, user: WebUser, session: WebDb, form: Form
) -> Response:
    scopes = form.get("scopes", [])
    data = {"name": form.get("name", ""), "scopes": [scopes] if isinstance(scopes, str) else scopes}
    try:
        body = ApiKeyCreate.model_validate(data)
    except ValidationError as exc:
        errors = rejected(session, exc)
        return _keys_page(request, org, session, 422, values=data, errors=errors)
    key, secret = api_keys.create_api_key(
        session,
        org.scope,
        created_by=user.user.id,
        name=body.name,
        scopes=[s.value for s in body.scopes],
        expires_at=None,
    )
    # The secret is on this one page only (not a redirect target): we keep just its hash.
    return _keys_page(request, org, session, created=key, secret=secret)


@router.post("/orgs/{org_id}/api-keys/{key_id}/revoke")
def revoke_key(key_id: uuid.UUID, org: KeyManager, session: WebDb, form: Form) -> Response:
    api_keys.revoke_api_key(session, org.scope, key_id)
    return redirect(f"/orgs/{org.id}/api-keys")
