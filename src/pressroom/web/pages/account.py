"""Sign up, log in, log out, and the account page (profile, password, sessions)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, EmailStr, Field, ValidationError
from sqlalchemy.orm import Session
from starlette.responses import Response

from pressroom.auth import accounts, email_verification
from pressroom.auth import service as auth
from pressroom.auth.account_schemas import SignupIn
from pressroom.auth.passwords import MAX_PASSWORD_LENGTH
from pressroom.auth.principals import UserPrincipal
from pressroom.auth.rate_limit import AttemptCounter, client_ip
from pressroom.auth.schemas import TokenPair
from pressroom.errors import AppError
from pressroom.validation import Name
from pressroom.web import security
from pressroom.web.core import (
    Form,
    MaybeUser,
    WebDb,
    WebRoute,
    WebUser,
    form_error,
    parse,
    redirect,
    rejected,
    render,
    safe_next,
    settings_of,
)

router = APIRouter(route_class=WebRoute)


class LoginForm(BaseModel):
    model_config = ConfigDict(extra="ignore")

    email: EmailStr = Field(max_length=254)
    password: str = Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)


class ProfileForm(BaseModel):
    model_config = ConfigDict(extra="ignore")

    display_name: Name | None = None


class PasswordForm(BaseModel):
    model_config = ConfigDict(extra="ignore")

    current_password: str = Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)
    password: str = Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)


def _signed_in(request: Request, tokens: TokenPair, target: str) -> Response:
    settings = settings_of(request)
    response = redirect(target)
    security.set_cookie(
        response,
        settings,
        security.SESSION_COOKIE,
        tokens.refresh_token,
        max_age=settings.refresh_token_ttl_seconds,
    )
    security.renew_csrf_seed(request)
    return response


@router.get("/")
def home(user: MaybeUser) -> Response:
    return redirect("/orgs" if user else "/login")


@router.get("/signup")
def signup_page(request: Request, user: MaybeUser, next: str = "/orgs") -> Response:
    # `user` resolved: a signed-in browser's form token is bound to its session.
    return render(request, "signup.html", values={}, next=safe_next(next))


@router.post("/signup")
def signup(request: Request, session: WebDb, form: Form) -> Response:
    settings = settings_of(request)
    values = {k: form.get(k, "") for k in ("email", "display_name")}
    target = safe_next(form.get("next") or "/orgs")
    try:
        body = parse(SignupIn, form)
    except ValidationError as exc:
        return form_error(request, session, "signup.html", exc, values, next=target)
    try:
        attempts = AttemptCounter(request.app.state.engine, settings, client_ip(request))
        attempts.count("signup", body.email)
        user = accounts.signup(
            session, email=body.email, password=body.password, display_name=body.display_name
        )
        email_verification.start(session, settings, user)
        tokens = auth.login_session(session, settings, user)
    except AppError as exc:
        return form_error(request, session, "signup.html", exc, values, next=target)
    return _signed_in(request, tokens, target)


@router.get("/login")
def login_page(request: Request, user: MaybeUser, next: str = "/") -> Response:
    if user is not None:
        return redirect(safe_next(next))
    return render(request, "login.html", values={}, next=safe_next(next))


@router.post("/login")
def login(request: Request, session: WebDb, form: Form) -> Response:
    settings = settings_of(request)
    target = safe_next(form.get("next"))
    values = {"email": form.get("email", "")}
    try:
        body = parse(LoginForm, form)
        attempts = AttemptCounter(request.app.state.engine, settings, client_ip(request))
        attempts.count("login", body.email)
        tokens = auth.login(session, settings, email=body.email, password=body.password)
    except (AppError, ValidationError) as exc:
        return form_error(request, session, "login.html", exc, values, next=target)
    return _signed_in(request, tokens, target)


@router.post("/logout")
def logout(request: Request, user: WebUser, session: WebDb, form: Form) -> Response:
    if form.get("everywhere"):
        auth.logout_everywhere(session, user)
    else:
        auth.logout(session, user)
    response = redirect("/login")
    security.clear_cookie(response, settings_of(request), security.SESSION_COOKIE)
    security.renew_csrf_seed(request)
    return response


def _account(
    request: Request, user: UserPrincipal, session: Session, status: int = 200, **context: Any
) -> Response:
    context.setdefault("values", {"display_name": user.user.display_name})
    sessions = auth.live_sessions(session, user)
    return render(
        request, "account.html", status, sessions=sessions, current=user.session_id, **context
    )


@router.get("/account")
def account_page(request: Request, user: WebUser, session: WebDb) -> Response:
    return _account(request, user, session)


@router.post("/account/profile")
def update_profile(request: Request, user: WebUser, session: WebDb, form: Form) -> Response:
    try:
        body = parse(ProfileForm, form)
    except ValidationError as exc:
        return _account(request, user, session, 422, errors=rejected(session, exc), values=form)
    accounts.update_profile(session, user.user, display_name=body.display_name)
    return redirect("/account?saved=profile")


@router.post("/account/password")
def change_password(request: Request, user: WebUser, session: WebDb, form: Form) -> Response:
    try:
        body = parse(PasswordForm, form)
        accounts.change_password(
            session, user.user, current=body.current_password, new=body.password
        )
    except (AppError, ValidationError) as exc:
        status = exc.status if isinstance(exc, AppError) else 422
        return _account(request, user, session, status, errors=rejected(session, exc))
    # Whoever knew the old password is signed out everywhere else.
    auth.logout_others(session, user)
    return redirect("/account?saved=password")
