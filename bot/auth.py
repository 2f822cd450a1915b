"""Caseworker accounts: argon2 password hashes, lockout, bearer tokens stored as hashes."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.cases import ROLES
from bot.errors import HelplineError
from bot.models import ApiToken, Organisation, User, utcnow

MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)
TOKEN_LIFETIME = timedelta(hours=12)
MIN_PASSWORD_LENGTH = 10

_hasher = PasswordHasher()
# Verifying against this when the user does not exist keeps timing the same.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


class LoginFailed(HelplineError):
    """Wrong username or password, or the account is locked; never says which."""


def create_organisation(
    session: Session, name: str, languages: list[str], countries: list[str]
) -> Organisation:
    if session.scalar(select(Organisation).where(Organisation.name == name)) is not None:
        raise HelplineError(f"an organisation named {name!r} already exists")
    organisation = Organisation(name=name, languages=languages, countries=countries)
    session.add(organisation)
    session.flush()
    return organisation


def create_user(
    session: Session, *, organisation: str, username: str, role: str, password: str
) -> User:
    if role not in ROLES:
        raise HelplineError(f"role must be one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise HelplineError(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
    org = session.scalar(select(Organisation).where(Organisation.name == organisation))
    if org is None:
        raise HelplineError(f"no organisation named {organisation!r}")
    if session.scalar(select(User).where(User.username == username)) is not None:
        raise HelplineError(f"a user named {username!r} already exists")
    user = User(
        organisation_id=org.id, username=username, role=role, password_hash=_hasher.hash(password)
    )
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, username: str, password: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None or not user.is_active:
        _verify(_DUMMY_HASH, password)
        raise LoginFailed("invalid credentials")
    now = utcnow()
    if user.locked_until is not None and user.locked_until > now:
        raise LoginFailed("invalid credentials")
    if not _verify(user.password_hash, password):
        user.failed_logins += 1
        if user.failed_logins >= MAX_FAILED_LOGINS:
            user.locked_until = now + LOCKOUT
            user.failed_logins = 0
        raise LoginFailed("invalid credentials")
    user.failed_logins = 0
    user.locked_until = None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(session: Session, user: User) -> tuple[str, int]:
    token = secrets.token_urlsafe(32)
    session.add(
        ApiToken(
            user_id=user.id, token_hash=_token_hash(token), expires_at=utcnow() + TOKEN_LIFETIME
        )
    )
    return token, int(TOKEN_LIFETIME.total_seconds())


def revoke_token(session: Session, token: str) -> None:
    """End a token's validity now (a dashboard log-out)."""
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _token_hash(token)))
    if row is not None:
        session.delete(row)


def user_for_token(session: Session, token: str) -> User | None:
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _token_hash(token)))
    if row is None or row.expires_at <= utcnow() or not row.user.is_active:
        return None
    return row.user
