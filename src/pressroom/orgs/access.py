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
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Annotated, Any

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy import ColumnElement, DateTime, Uuid, and_, bindparam, select
from sqlalchemy.orm import Session

from pressroom.api_keys.models import ApiKey
from pressroom.api_keys.service import (
    API_KEY_PREFIX,
    live_key,
    live_key_hash,
    record_use,
    use_is_stale,
    use_recording,
)
from pressroom.auth.dependencies import (
    WITHOUT_PASSWORD_HASH,
    CurrentPrincipal,
    bearer_scheme,
    bearer_token,
    invalid_key,
    invalid_token,
    live_session,
    live_session_of,
)
from pressroom.auth.models import AuthSession
from pressroom.auth.principals import ApiKeyPrincipal, Principal, UserPrincipal
from pressroom.auth.tokens import AccessClaims, decode_access_token
from pressroom.auth.users import User
from pressroom.config import AppSettings, Settings
from pressroom.db.async_pool import (
    DriverStatement,
    PoolConnection,
    PoolTransaction,
    execute_once,
)
from pressroom.db.base import new_id
from pressroom.db.deps import DbSession
from pressroom.db.tenancy import (
    AccessProof,
    OrgScope,
    SystemDuty,
    entered,
    scope_to_orgs,
    system_duty,
)
from pressroom.errors import Forbidden, NotFound
from pressroom.hashed_secrets import hash_secret
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


def credential_org_access(
    org_id: uuid.UUID,
    session: DbSession,
    settings: AppSettings,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> OrgAccess:
    """`org_access` for the request's bearer credential, in one statement: the credential
    (the same rules as `current_principal`), the org, the caller's role there, and the
    transaction's scope (db.tenancy.AccessProof). 401 for a bad credential, 404 for an org
    the caller does not belong to, as `org_access` answers."""
    token = bearer_token(credentials)
    now = datetime.now(UTC)
    if token.startswith(API_KEY_PREFIX):
        return _key_access(session, org_id, token, now)
    claims = decode_access_token(settings, token)
    if claims is None:
        raise invalid_token()
    return _user_access(session, org_id, claims, now)


def _key_access(session: Session, org_id: uuid.UUID, secret: str, now: datetime) -> OrgAccess:
    # The key names its org: found by its secret under the CREDENTIALS duty.
    proof = AccessProof(session, SystemDuty.CREDENTIALS)
    row = session.execute(
        select(ApiKey, Organization, *proof.columns(ApiKey.org_id, org_id))
        .join(Organization, Organization.id == ApiKey.org_id)
        .where(*live_key(secret, now))
    ).first()
    if row is None:
        proof.failed()
        raise invalid_key()
    key, org = row[0], row[1]
    # A key acts in its own org only; any other org does not exist for it.
    if key.org_id != org_id:
        raise OrgNotFound("Organization not found.")
    scope = proof.scope(org_id)
    record_use(session, key, now)
    principal = ApiKeyPrincipal(key)
    return OrgAccess(org, principal, None, scope_permissions(principal.scopes), scope)


def _user_access(
    session: Session, org_id: uuid.UUID, claims: AccessClaims, now: datetime
) -> OrgAccess:
    # The user's membership of this org, if any, under the MEMBERSHIPS duty: no org row is
    # seen before it proves access (the duty ends with the statement's row).
    proof = AccessProof(session, SystemDuty.MEMBERSHIPS)
    row = session.execute(
        select(User, Organization, Membership.role, *proof.columns(Membership.org_id, org_id))
        .join(AuthSession, AuthSession.user_id == User.id)
        .outerjoin(Membership, and_(Membership.user_id == User.id, Membership.org_id == org_id))
        .outerjoin(Organization, Organization.id == Membership.org_id)
        .where(*live_session(claims, now))
        .options(WITHOUT_PASSWORD_HASH)
    ).first()
    if row is None:
        proof.failed()
        raise invalid_token()
    user, org, role_name = row[0], row[1], row[2]
    if org is None:
        raise OrgNotFound("Organization not found.")
    role = Role(role_name)
    principal = UserPrincipal(user=user, session_id=claims.session_id)
    return OrgAccess(org, principal, role, role_permissions(role), proof.scope(org_id))


CurrentOrg = Annotated[OrgAccess, Depends(credential_org_access)]


def ensure(access: OrgAccess, permission: Permission) -> OrgAccess:
    """`access`, if its caller may do `permission` there; else 403 (the caller knows the org)."""
    _check(access.permissions, permission)
    return access


def _check(permissions: frozenset[Permission], permission: Permission) -> None:
    if permission not in permissions:
        raise PermissionDenied(f"This needs the '{permission.value}' permission.")


def require(permission: Permission) -> Any:
    """`Annotated[OrgAccess, require(Permission.X)]`: the org, if the caller may do X there."""

    # async: a check without I/O, not worth a thread-pool hop of its own.
    async def dependency(access: CurrentOrg) -> OrgAccess:
        return ensure(access, permission)

    dependency.__name__ = f"require_{permission.name.lower()}"
    return Depends(dependency)


# --- The hottest routes (pressroom.db.async_pool): the same proof, on the event loop.


def _no_params(_now: datetime) -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class OrgColumns:
    """What a route on the async pool reads of the org besides the caller's access (its
    plan, its month's usage), in the access statement itself: `columns`, correlated with
    `Organization.id`, and the values of their parameters at `now`."""

    columns: Callable[[], tuple[ColumnElement[Any], ...]]
    params: Callable[[datetime], dict[str, Any]] = _no_params


@dataclass(frozen=True)
class PoolAccess:
    """`OrgAccess` for a route on the async pool: the caller's permissions in the org, the
    transaction's scope, the user (None for an API key), and the `OrgColumns` asked for."""

    permissions: frozenset[Permission]
    scope: OrgScope
    user_id: uuid.UUID | None
    read: tuple[Any, ...] = ()


async def prove_pool_access(
    conn: PoolConnection,
    org_id: uuid.UUID,
    settings: Settings,
    credentials: HTTPAuthorizationCredentials | None,
    reads: OrgColumns | None = None,
) -> PoolAccess:
    """`credential_org_access` as the first statement of an async pool transaction
    (db.tenancy.entered: it enters the runtime role and its duty itself): the same rules
    and the same answers (401, 404), the scope set in the database."""
    token = bearer_token(credentials)
    now = datetime.now(UTC)
    extra = reads.params(now) if reads is not None else {}
    if token.startswith(API_KEY_PREFIX):
        row = await _key_proof(reads).first(
            conn, secret_hash=hash_secret(token), now=now, org=org_id, **extra
        )
        if row is None:
            raise invalid_key()
        key_id, key_org, scopes, last_used_at = row[:4]
        if key_org != org_id:
            raise OrgNotFound("Organization not found.")
        if use_is_stale(last_used_at, now):
            await execute_once(conn, use_recording(key_id, now))
        permissions = scope_permissions(frozenset(scopes))
        # The reads follow the key's 4 columns and the proof's 2.
        return PoolAccess(permissions, AccessProof.proven(org_id), None, tuple(row[6:]))
    claims = decode_access_token(settings, token)
    if claims is None:
        raise invalid_token()
    row = await _membership_proof(reads).first(
        conn, session_id=claims.session_id, user_id=claims.user_id, now=now, org=org_id, **extra
    )
    if row is None:
        raise invalid_token()
    if row[0] is None:
        raise OrgNotFound("Organization not found.")
    permissions = role_permissions(Role(row[0]))
    # The reads follow the role and the proof's 2 columns.
    return PoolAccess(permissions, AccessProof.proven(org_id), claims.user_id, tuple(row[3:]))


def _read(reads: OrgColumns | None) -> tuple[ColumnElement[Any], ...]:
    if reads is None:
        return ()
    return tuple(c.label(f"org_read_{i}") for i, c in enumerate(reads.columns()))


# The statements of `_key_access` and `_user_access`, as columns, built once per reads.
@cache
def _key_proof(reads: OrgColumns | None) -> DriverStatement:
    wanted = bindparam("org", type_=Uuid)
    return DriverStatement(
        entered(
            select(ApiKey.id, ApiKey.org_id, ApiKey.scopes, ApiKey.last_used_at)
            .add_columns(*AccessProof.columns(ApiKey.org_id, wanted), *_read(reads))
            .join(Organization, Organization.id == ApiKey.org_id)
            .where(*live_key_hash(bindparam("secret_hash"), bindparam("now"))),
            SystemDuty.CREDENTIALS,
        )
    )


@cache
def _membership_proof(reads: OrgColumns | None) -> DriverStatement:
    wanted = bindparam("org", type_=Uuid)
    session_id, user_id = bindparam("session_id", type_=Uuid), bindparam("user_id", type_=Uuid)
    now = bindparam("now", type_=DateTime(timezone=True))
    return DriverStatement(
        entered(
            select(Membership.role)
            .add_columns(*AccessProof.columns(Membership.org_id, wanted), *_read(reads))
            .select_from(User)
            .join(AuthSession, AuthSession.user_id == User.id)
            .outerjoin(Membership, and_(Membership.user_id == User.id, Membership.org_id == wanted))
            .outerjoin(Organization, Organization.id == Membership.org_id)
            .where(*live_session_of(session_id, user_id, now)),
            SystemDuty.MEMBERSHIPS,
        )
    )


class PoolOrgAccess:
    """The dependency of a route on the async pool: `require` there (the org of the path,
    if the caller may do `permission` in it), reading `reads` of the org on the way."""

    def __init__(self, permission: Permission, reads: OrgColumns | None = None) -> None:
        self.permission, self.reads = permission, reads

    async def __call__(
        self,
        org_id: uuid.UUID,
        conn: PoolTransaction,
        settings: AppSettings,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    ) -> PoolAccess:
        access = await prove_pool_access(conn, org_id, settings, credentials, self.reads)
        _check(access.permissions, self.permission)
        return access


def require_on_pool(permission: Permission, reads: OrgColumns | None = None) -> Any:
    """`Annotated[PoolAccess, require_on_pool(Permission.X)]`: `require`, on the async pool."""
    return Depends(PoolOrgAccess(permission, reads))
