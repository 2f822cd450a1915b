"""Dashboard sessions and CSRF protection.

A dashboard session is a server-side token (``bot.auth.issue_token``: stored as a hash,
expiring, revoked at log-out) carried in an HttpOnly, SameSite=Lax cookie that is
Secure when the helpline is served over https. Every POST carries a CSRF token: for a
signed-in user an HMAC of the session token under ``HELPLINE_SECRET_KEY``; on the
log-in form, before any session exists, a random value that must match its cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from fastapi import Request, Response
from sqlalchemy.orm import Session

from bot import auth
from bot.config import Settings
from bot.models import User

SESSION_COOKIE = "helpline_dashboard"
LOGIN_CSRF_COOKIE = "helpline_login_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
COOKIE_PATH = "/dashboard"


class CsrfRejected(Exception):
    """A POST without the right CSRF token: answered 403."""


class NotSignedIn(Exception):
    """No valid session: the browser is sent to the log-in page."""


@dataclass(frozen=True)
class Signed:
    """The signed-in user of a request and the CSRF token its forms carry."""

    user: User
    token: str
    csrf: str


def csrf_for(settings: Settings, token: str) -> str:
    key = settings.secret_key.reveal().encode("utf-8")
    return hmac.new(key, b"dashboard-csrf:" + token.encode("utf-8"), hashlib.sha256).hexdigest()


def secure_cookies(settings: Settings) -> bool:
    return settings.public_base_url.startswith("https://")


def set_cookie(settings: Settings, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(settings),
    )


def clear_cookie(settings: Settings, response: Response, name: str) -> None:
    response.delete_cookie(
        name, path=COOKIE_PATH, httponly=True, samesite="lax", secure=secure_cookies(settings)
    )


def signed_in(request: Request, settings: Settings, session: Session) -> Signed:
    token = request.cookies.get(SESSION_COOKIE)
    user = auth.user_for_token(session, token) if token else None
    if token is None or user is None:
        raise NotSignedIn
    return Signed(user=user, token=token, csrf=csrf_for(settings, token))


async def submitted_csrf(request: Request) -> str:
    """The CSRF token of a POST: the form field, else the header ``fetch`` sends."""
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        return value if isinstance(value, str) else ""
    return ""


def check_csrf(expected: str, submitted: str) -> None:
    # Compared as bytes: compare_digest refuses str with non-ASCII characters.
    if (
        not expected
        or not submitted
        or not hmac.compare_digest(expected.encode(), submitted.encode())
    ):
        raise CsrfRejected


def new_login_csrf() -> str:
    return secrets.token_urlsafe(32)
