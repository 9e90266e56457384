"""The database half of tenant isolation: the runtime role and each transaction's scope.

Every transaction on an application engine starts by switching to `RUNTIME_ROLE`
(`set_config('role', ..., true)` is `SET LOCAL ROLE`): not the tables' owner, no
BYPASSRLS, so the row-level-security policies of every org-owned table apply even when the
login role is the owner or a superuser. A policy admits a row when its org is in the
transaction's `pressroom.org_ids`, or when the transaction runs a named system duty
(`pressroom.system`). Both settings are transaction-local, so nothing outlives the
transaction (safe behind a transaction-pooling PgBouncer), and a transaction that sets
neither sees no org-owned row at all.

Only pressroom.orgs.access scopes a transaction to orgs (it proves the caller belongs to
them first); `system_duty` is for code that must cross orgs, each use named by a
`SystemDuty` (docs/architecture.md lists them). tests/test_structure.py holds both to that.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Select,
    String,
    bindparam,
    case,
    cast,
    event,
    func,
    select,
    true,
)
from sqlalchemy.orm import InstrumentedAttribute, Session

RUNTIME_ROLE = "pressroom_app"


class SystemDuty(enum.StrEnum):
    """Why a transaction may read and write every org's rows."""

    WORKER = "worker"  # claim, lease, finish and rescue jobs, refund quota: all orgs' queue
    PROVIDER_EVENTS = "provider_events"  # a payment provider's event names its org itself
    CREDENTIALS = "credentials"  # an API key is found by its secret, before its org is known
    INVITATIONS = "invitations"  # an invitation is found by its token, before its org is known
    MEMBERSHIPS = "memberships"  # which orgs a user belongs to, to scope to them
    OUTBOX = "outbox"  # deliver every org's webhooks and e-mail, written by their changes
    MAINTENANCE = "maintenance"  # operators' commands and retention over every org


# Driver-level (pyformat) SQL: it runs from the engine's "begin" event.
_ENTER = "SELECT set_config('role', %(role)s, true), set_config('pressroom.system', %(duty)s, true)"
_SET_DUTY = "SELECT set_config('pressroom.system', %(duty)s, true)"
_SET_ORGS = "SELECT set_config('pressroom.org_ids', %(orgs)s, true)"


def _set(session: Session | Connection, sql: str, params: dict[str, str]) -> None:
    # Straight to the driver: a statement on every request, not worth SQLAlchemy's work.
    conn = session.connection() if isinstance(session, Session) else session
    conn.connection.driver_connection.execute(sql, params)  # type: ignore[union-attr]


_DUTY_OPTION = "pressroom_duty"


def use_runtime_role(engine: Engine) -> None:
    """Run every transaction of `engine` as the runtime role, with the standing duty of the
    engine it runs on, if any (`system_engine`): one statement, at BEGIN."""

    def enter(conn: Connection) -> None:
        duty = conn.get_execution_options().get(_DUTY_OPTION, "")
        conn.exec_driver_sql(_ENTER, {"role": RUNTIME_ROLE, "duty": duty})

    event.listen(engine, "begin", enter)


def system_engine(engine: Engine, duty: SystemDuty) -> Engine:
    """`engine` (same pool) whose every transaction runs `duty`: for a process or path that
    works across orgs as a whole (the worker, provider events), at no extra round trip."""
    return engine.execution_options(**{_DUTY_OPTION: duty.value})


@contextmanager
def system_duty(session: Session | Connection, duty: SystemDuty) -> Iterator[None]:
    """Within the block, the transaction may touch every org's rows, for `duty`."""
    _enter_duty(session, duty)
    yield
    # Not in `finally`: an error inside ends the transaction's use (the request fails).
    _set(session, _SET_DUTY, {"duty": ""})


def _enter_duty(session: Session | Connection, duty: SystemDuty) -> None:
    if isinstance(session, Session) and not session.in_transaction():
        # Nothing run yet (a credential is the request's first lookup): the duty rides on
        # the BEGIN statement instead of a round trip of its own.
        session.connection(execution_options={_DUTY_OPTION: duty.value})
    else:
        _set(session, _SET_DUTY, {"duty": duty.value})


_MINT = object()


@dataclass(frozen=True)
class OrgScope:
    """Orgs the caller has been proven to reach; the transaction is scoped to them."""

    org_ids: tuple[uuid.UUID, ...]
    _mint: object = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self._mint is not _MINT:
            raise TypeError("an OrgScope is made only by scope_to_orgs (pressroom.orgs.access)")

    @property
    def org_id(self) -> uuid.UUID:
        """The one org of a single-org scope (every /orgs/{org_id}/... request)."""
        (org_id,) = self.org_ids
        return org_id

    def narrow(self, org_ids: Iterable[uuid.UUID]) -> OrgScope:
        """The part of this scope among `org_ids` (a page of the org listing)."""
        return OrgScope(tuple(i for i in org_ids if i in self.org_ids), _MINT)

    def enter(self, session: Session) -> None:
        """Scope another transaction to these already-proven orgs: for work that outlives
        the request's transaction (a job's event stream polls on short sessions)."""
        _set(session, _SET_ORGS, {"orgs": ",".join(str(i) for i in self.org_ids)})

    def where(self, column: InstrumentedAttribute[uuid.UUID]) -> ColumnElement[bool]:
        """`column` (an org id) limited to the scope: the one spelling of an org filter."""
        if len(self.org_ids) == 1:
            return column == self.org_ids[0]
        return column.in_(self.org_ids)

    @staticmethod
    def where_param(column: InstrumentedAttribute[uuid.UUID]) -> ColumnElement[bool]:
        """`where` of a single-org scope as a bound parameter, for a statement built once
        (pressroom.db.async_pool.DriverStatement); `param` gives its value."""
        return column == bindparam(_ORG_PARAM)

    @property
    def param(self) -> dict[str, uuid.UUID]:
        return {_ORG_PARAM: self.org_id}


_ORG_PARAM = "scope_org_id"


_SCOPE_KEY = "pressroom.org_scope"


def scope_to_orgs(session: Session, org_ids: Iterable[uuid.UUID]) -> OrgScope:
    """Only pressroom.orgs.access calls this, once it has proven the caller's access
    (tests/test_structure.py): the transaction now sees these orgs' rows, and no other's."""
    ids = tuple(org_ids)
    _set(session, _SET_ORGS, {"orgs": ",".join(str(i) for i in ids)})
    scope = OrgScope(ids, _MINT)
    session.info[_SCOPE_KEY] = scope
    return scope


class AccessProof:
    """One statement that proves a caller's access to an org and scopes the transaction to
    it: run under `duty` (so it can find the credential and the org before any scope
    exists), with `columns` in its select list, which end the duty and set the scope for
    the rest of the transaction once the row is admitted. Instead of four statements
    (duty, lookup, duty reset, scope), one. Only pressroom.orgs.access makes one
    (tests/test_structure.py).

    A statement that returns no row has set nothing: `failed` ends the duty then."""

    def __init__(self, session: Session, duty: SystemDuty) -> None:
        self.session = session
        _enter_duty(session, duty)

    @staticmethod
    def columns(
        org_id: InstrumentedAttribute[uuid.UUID], wanted: Any
    ) -> tuple[ColumnElement[str], ColumnElement[str]]:
        """End the duty; scope to `wanted` (an org id, or a bound parameter for one) if the
        row's `org_id` is it, else to nothing."""
        scoped = case((org_id == wanted, cast(org_id, String)), else_="")
        return (
            func.set_config("pressroom.system", "", True),
            func.set_config("pressroom.org_ids", scoped, True),
        )

    def scope(self, org_id: uuid.UUID) -> OrgScope:
        """The scope the statement set, now that its row proved access to `org_id`."""
        scope = OrgScope((org_id,), _MINT)
        self.session.info[_SCOPE_KEY] = scope
        return scope

    @staticmethod
    def proven(org_id: uuid.UUID) -> OrgScope:
        """The scope an `entered` proof's columns set, once its row proved access."""
        return OrgScope((org_id,), _MINT)

    def failed(self) -> None:
        """No row came back: the columns never ran, so the duty is still on."""
        _set(self.session, _SET_DUTY, {"duty": ""})


def entered(query: Select[Any], duty: SystemDuty) -> Select[Any]:
    """`query` (an access proof's) as the first statement of its transaction, entering it
    itself: the runtime role and `duty`, what the engine's BEGIN sets (`use_runtime_role`),
    without a statement of their own (pressroom.db.async_pool).

    Row-level security reads the duty when it filters `query`'s rows, so the duty must be
    set before they are scanned. `query` becomes a LATERAL subquery that depends on the
    row setting it, so the planner can only run it after that row (and OFFSET 0 keeps
    either from being flattened into the other). If that ever failed, the duty would be
    off while scanning: the credential would not be found (401), nothing more
    (tests/api/test_async_pool.py runs it where row-level security applies).
    The role takes effect from the next statement: this one is planned and checked as
    the login role, and sees no more than it would under the duty."""
    entry = (
        select(
            func.set_config("role", RUNTIME_ROLE, True).label("role"),
            func.set_config("pressroom.system", duty.value, True).label("duty"),
        )
        .offset(0)
        .subquery("entry")
    )
    proof = query.where(entry.c.duty.is_not(None)).offset(0).lateral("proof")
    return select(proof).select_from(entry.join(proof, true()))


def rollback_in_scope(session: Session) -> None:
    """Roll back what the request wrote, but keep its proven scope for what it shows next
    (a form with its errors): the setting died with the transaction, and the entities the
    page still reads would otherwise reload as rows row-level security hides."""
    session.rollback()
    scope: OrgScope | None = session.info.get(_SCOPE_KEY)
    if scope is not None:
        scope.enter(session)
