"""Forgot and reset password, and verify e-mail: the pages the mailed links open."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.responses import Response

from pressroom.auth import email_verification, password_reset
from pressroom.auth.passwords import MAX_PASSWORD_LENGTH
from pressroom.auth.rate_limit import AttemptCounter, client_ip
from pressroom.errors import AppError
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
    render,
    settings_of,
)

router = APIRouter(route_class=WebRoute)


class ForgotForm(BaseModel):
    model_config = ConfigDict(extra="ignore")

    # Not EmailStr, as in the API: whatever is sent is answered the same way.
    email: str = Field(min_length=1, max_length=320)


class ResetForm(BaseModel):
    model_config = ConfigDict(extra="ignore")

    token: str = Field(min_length=1, max_length=256)
    password: str = Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)


def _attempts(request: Request) -> AttemptCounter:
    return AttemptCounter(request.app.state.engine, settings_of(request), client_ip(request))


@router.get("/forgot-password")
def forgot_page(request: Request, user: MaybeUser) -> Response:
    return render(request, "forgot.html", values={})


@router.post("/forgot-password")
def forgot(request: Request, session: WebDb, form: Form) -> Response:
    values = {"email": form.get("email", "")}
    try:
        body = parse(ForgotForm, form)
        _attempts(request).count("reset", body.email)
        password_reset.request_reset(session, body.email)
    except (AppError, ValidationError) as exc:
        return form_error(request, session, "forgot.html", exc, values)
    return redirect("/forgot-password?sent=1")


@router.get("/reset-password")
def reset_page(request: Request, user: MaybeUser, token: str = "") -> Response:
    return render(request, "reset.html", values={}, token=token[:256])


@router.post("/reset-password")
def reset(request: Request, session: WebDb, form: Form) -> Response:
    token = str(form.get("token", ""))[:256]
    try:
        body = parse(ResetForm, form)
        password_reset.confirm_reset(session, body.token, body.password)
    except (AppError, ValidationError) as exc:
        return form_error(request, session, "reset.html", exc, {}, token=token)
    # Every session ended, this browser's too: its cookie goes with it.
    response = redirect("/login?reset=1")
    security.clear_cookie(response, settings_of(request), security.SESSION_COOKIE)
    security.renew_csrf_seed(request)
    return response


@router.get("/verify-email")
def verify_page(request: Request, user: MaybeUser, token: str = "") -> Response:
    # A GET only shows the form: mail scanners that follow links must not spend the token.
    return render(request, "verify.html", token=token[:256])


@router.post("/verify-email")
def verify(request: Request, session: WebDb, form: Form) -> Response:
    token = str(form.get("token", ""))[:256]
    try:
        email_verification.verify(session, token)
    except AppError as exc:
        return form_error(request, session, "verify.html", exc, {}, token=token)
    return redirect("/account?saved=verified" if request.state.user else "/login?verified=1")


@router.post("/account/verify-email/resend")
def resend(request: Request, user: WebUser, session: WebDb, form: Form) -> Response:
    try:
        _attempts(request).count("verify", user.user.email)
        email_verification.resend(session, settings_of(request), user.user)
    except AppError as exc:
        session.rollback()
        return render(
            request, "error.html", exc.status, title=exc.title, detail=exc.detail, status=exc.status
        )
    return redirect("/account?saved=verification")
