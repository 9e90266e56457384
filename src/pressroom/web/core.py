"""What every dashboard page shares: the route class, the request's session, the signed-in
user, the org access (the API's own `org_access` + `ensure`), rendering and errors.

Errors are the API's: services raise the same `AppError`s, and a page shows them — a form
next to the field the problem names, anything else as an error page with the same status
(another org's page is the API's 404, a missing permission its 403).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from pressroom.auth import service as auth_service
from pressroom.auth.principals import UserPrincipal
from pressroom.billing.plans import plan_now
from pressroom.config import Settings
from pressroom.db.session import unit_of_work
from pressroom.db.tenancy import OrgScope, rollback_in_scope
from pressroom.errors import AppError, Forbidden
from pressroom.orgs.access import OrgAccess, ensure, org_access
from pressroom.orgs.permissions import Permission
from pressroom.web import security

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")
GENERAL = "_"  # the errors key of a problem that names no field


class LoginRequired(Exception):
    """No live cookie session: the page answers with a redirect to the login form."""


class CsrfRefused(Forbidden):
    code, title = "csrf_refused", "Form expired"


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def web_session(request: Request) -> Iterator[Session]:
    # Function scope: the transaction commits (or rolls back) before the page is sent, so
    # the page after a redirect always sees what the form stored.
    with unit_of_work(request.app.state.sessionmaker) as session:
        request.state.db = session
        yield session


WebDb = Annotated[Session, Depends(web_session, scope="function")]


def optional_user(request: Request, session: WebDb) -> UserPrincipal | None:
    token = request.cookies.get(security.SESSION_COOKIE)
    if not token or len(token) > 200:
        return None
    principal = auth_service.session_user(session, token)
    request.state.user = principal
    return principal


MaybeUser = Annotated[UserPrincipal | None, Depends(optional_user)]


def signed_in(user: MaybeUser) -> UserPrincipal:
    if user is None:
        raise LoginRequired
    return user


WebUser = Annotated[UserPrincipal, Depends(signed_in)]


async def checked_form(request: Request, user: MaybeUser) -> dict[str, Any]:
    """The posted form, once its CSRF token proved it came from one of our pages."""
    form = await request.form()
    token = form.get(security.CSRF_FIELD)
    seed = request.cookies.get(security.CSRF_COOKIE)
    session_id = user.session_id if user else None
    if (
        not isinstance(token, str)
        or not security.same_origin(request)
        or not security.csrf_valid(settings_of(request), seed, session_id, token)
    ):
        raise CsrfRefused("The form expired or came from another site; reload the page and retry.")
    fields: dict[str, Any] = {}
    for key, value in form.multi_items():
        if key == security.CSRF_FIELD:
            continue
        if key in fields:  # a repeated field (checkboxes) becomes a list
            previous = fields[key]
            fields[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            fields[key] = value
    return fields


Form = Annotated[dict[str, Any], Depends(checked_form)]


@dataclass(frozen=True)
class Org:
    """The page's org, resolved by the API's access path."""

    access: OrgAccess
    plan: str

    @property
    def id(self) -> uuid.UUID:
        return self.access.org_id

    @property
    def scope(self) -> OrgScope:
        return self.access.scope


def web_org_access(org_id: uuid.UUID, user: WebUser, session: WebDb) -> OrgAccess:
    """The API's `org_access` for the cookie's user: the dashboard's one way into an org
    (tests/api/test_tenant_isolation.py checks that every org page depends on it)."""
    return org_access(org_id, user, session)


def org_page(permission: Permission) -> Any:
    """`Annotated[Org, org_page(Permission.X)]`: the page's org, if the user may do X there."""

    def dependency(
        access: Annotated[OrgAccess, Depends(web_org_access)], session: WebDb, request: Request
    ) -> Org:
        ensure(access, permission)
        org = Org(access, plan_now(session, access.scope).name)
        request.state.org = org
        return org

    dependency.__name__ = f"org_page_{permission.name.lower()}"
    return Depends(dependency)


def _field_of(loc: tuple[int | str, ...]) -> str:
    # A list's item (`event_types.0`) is reported at its field: a group of checkboxes.
    return ".".join(str(p) for p in loc if not isinstance(p, int)) or GENERAL


def field_errors(exc: AppError | ValidationError) -> dict[str, str]:
    """{field: message} from a problem's `errors` (or `field`), else under GENERAL."""
    if isinstance(exc, ValidationError):
        return {_field_of(e["loc"]): e["msg"].removeprefix("Value error, ") for e in exc.errors()}
    errors: dict[str, str] = {}
    for item in exc.extra.get("errors") or []:
        errors.setdefault(str(item.get("field", GENERAL)), str(item.get("message", exc.detail)))
    if not errors and "field" in exc.extra:
        errors[str(exc.extra["field"])] = exc.detail
    return errors or {GENERAL: exc.detail}


def rejected(session: Session, exc: AppError | ValidationError) -> dict[str, str]:
    """The form's errors; nothing the failed action wrote may be committed."""
    rollback_in_scope(session)
    return field_errors(exc)


M = TypeVar("M", bound=BaseModel)


def parse(model: type[M], form: dict[str, Any]) -> M:
    """The form as the API's own body model (blank fields are absent, as in JSON)."""
    data = {k: v for k, v in form.items() if k in model.model_fields and v != ""}
    return model.model_validate(data)


def form_error(
    request: Request,
    session: Session,
    template: str,
    exc: AppError | ValidationError,
    values: dict[str, Any],
    **context: Any,
) -> Response:
    """The form again, with the problem's message next to the field it names."""
    status = exc.status if isinstance(exc, AppError) else 422
    errors = rejected(session, exc)
    response = render(request, template, status, errors=errors, values=values, **context)
    if isinstance(exc, AppError):
        response.headers.update(exc.headers)  # e.g. a rate limit's Retry-After
    return response


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> Response:
    user: UserPrincipal | None = getattr(request.state, "user", None)
    settings = settings_of(request)
    csrf = security.csrf_token(
        settings, security.csrf_seed(request), user.session_id if user else None
    )
    base: dict[str, Any] = {
        "request": request,
        "user": user.user if user else None,
        "org": getattr(request.state, "org", None),
        "csrf_field": security.CSRF_FIELD,
        "csrf_token": csrf,
        "errors": {},
        "Permission": Permission,
        "dev_mailbox": not settings.is_production,
    }
    return TEMPLATES.TemplateResponse(
        request, template, {**base, **context}, status_code=status_code
    )


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def login_redirect(request: Request) -> RedirectResponse:
    # After a form whose session had ended, come back to the start, not to a POST-only path.
    if request.method != "GET":
        return redirect("/login")
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return redirect(f"/login?next={quote(target, safe='')}")


def safe_next(value: object) -> str:
    """Only a path of this site: `next=//evil.example` or a URL goes to the home page."""
    if isinstance(value, str) and value.startswith("/") and not value.startswith(("//", "/\\")):
        return value
    return "/"


class WebRoute(APIRoute):
    """A dashboard route: HTML errors instead of problem+json, and the security headers."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                response = await handler(request)
            except LoginRequired:
                response = login_redirect(request)
            except RequestValidationError as exc:
                # A malformed id in the path names nothing that exists.
                in_path = any(e["loc"][0] == "path" for e in exc.errors())
                response = _error_page(
                    request,
                    404 if in_path else 422,
                    "Not found" if in_path else "Invalid input",
                    str(exc.errors()[0]["msg"]),
                )
            except AppError as exc:
                db: Session | None = getattr(request.state, "db", None)
                if db is not None:
                    rollback_in_scope(db)
                response = _error_page(request, exc.status, exc.title, exc.detail)
                response.headers.update(exc.headers)
            settings = settings_of(request)
            new_seed = getattr(request.state, "new_csrf_seed", None)
            if new_seed is not None:
                security.set_cookie(
                    response, settings, security.CSRF_COOKIE, new_seed, max_age=None
                )
            security.add_security_headers(response, settings)
            return response

        return route


def _error_page(request: Request, status: int, title: str, detail: str) -> Response:
    return render(request, "error.html", status, title=title, detail=detail, status=status)
