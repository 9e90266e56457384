"""An organization's API keys (machine access)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Response, status

from pressroom.api_keys import service as api_keys
from pressroom.api_keys.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyOut
from pressroom.db.deps import DbSession
from pressroom.orgs.access import OrgAccess, PermissionDenied, require
from pressroom.orgs.permissions import Permission
from pressroom.orgs.routes import ORG_ERRORS
from pressroom.pagination import Page, Pagination

router = APIRouter(prefix="/orgs/{org_id}/api-keys", tags=["api keys"])

KeyManager = Annotated[OrgAccess, require(Permission.API_KEYS_MANAGE)]


@router.post("", status_code=status.HTTP_201_CREATED, responses=ORG_ERRORS)
def create_api_key(body: ApiKeyCreate, access: KeyManager, session: DbSession) -> ApiKeyCreated:
    """Create a key. Its secret (`key`) is in this response only; we keep just a hash."""
    if access.user is None:  # API keys never hold api_keys:manage; belt and braces.
        raise PermissionDenied("Only a user can create API keys.")
    key, secret = api_keys.create_api_key(
        session,
        access.scope,
        created_by=access.user.user.id,
        name=body.name,
        scopes=[s.value for s in body.scopes],
        expires_at=body.expires_at,
    )
    session.refresh(key)
    return ApiKeyCreated(**ApiKeyOut.model_validate(key).model_dump(), key=secret)


@router.get("", responses=ORG_ERRORS)
def list_api_keys(access: KeyManager, session: DbSession, page: Pagination) -> Page[ApiKeyOut]:
    """All keys of the org, revoked ones included (with `revoked_at`)."""
    keys, cursor = api_keys.list_api_keys(session, access.scope, page)
    return Page(items=[ApiKeyOut.model_validate(k) for k in keys], next_cursor=cursor)


@router.delete("/{key_id}", status_code=status.HTTP_204_NO_CONTENT, responses=ORG_ERRORS)
def revoke_api_key(key_id: uuid.UUID, access: KeyManager, session: DbSession) -> Response:
    """Revoke a key: it stops working at once."""
    api_keys.revoke_api_key(session, access.scope, key_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
