"""Sessions, CSRF and roles for the web channel (FastAPI dependencies).

The session lives in a signed cookie (Starlette's SessionMiddleware: itsdangerous, HttpOnly, SameSite=Lax,
Secure behind HTTPS). It holds a random session id, the CSRF token and, after a staff login, the account
name with its password version; the role is looked up in the account store on every request, so removing
an account or changing its password ends its sessions at once.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from ... import messages
from ...accounts import Account
from ..common import Role

CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"


class LoginRequired(Exception):
    """Raised by `staff_account` without a valid login: pages redirect to the login form, APIs get 401."""


def secret_key(configured: str, data_dir: Path) -> str:
    """FAZHI_WEB_SECRET_KEY, or one generated once and kept (mode 0600) beside the index, so sessions
    survive a restart without anyone having to invent a key."""
    if configured:
        return configured
    path = data_dir / "web-secret.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(48), encoding="utf-8")
    return path.read_text(encoding="utf-8").strip()


def session_id(request: Request) -> str:
    """The browser session's random id: the key for rate limits, follow-up questions and feedback."""
    sid = request.session.get("sid")
    if not sid:
        sid = request.session["sid"] = secrets.token_urlsafe(16)
    return sid


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return token


async def require_csrf(request: Request) -> None:
    """Every state-changing request carries the session's token: fetch() in a header, forms in a field."""
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
            ("multipart/form-data", "application/x-www-form-urlencoded")):
        sent = (await request.form()).get(CSRF_FIELD)
    expected = request.session.get("csrf")
    if not expected or not isinstance(sent, str) or not secrets.compare_digest(sent, expected):
        raise HTTPException(403, messages.WEB_CSRF_FAILED)


def logged_in(request: Request) -> Account | None:
    auth = request.session.get("auth")
    if not isinstance(auth, dict):
        return None
    return request.app.state.web.accounts.current(str(auth.get("user")), int(auth.get("version", -1)))


def staff_account(request: Request) -> Account:
    account = logged_in(request)
    if account is None:
        raise LoginRequired()
    return account


def admin_account(account: Annotated[Account, Depends(staff_account)]) -> Account:
    if account.role != "admin":
        raise HTTPException(403, messages.ADMIN_ONLY)
    return account


def start_session(request: Request, account: Account) -> None:
    """A fresh session on login (nothing carried over from before), with a new CSRF token."""
    request.session.clear()
    request.session["auth"] = {"user": account.username, "version": account.version}
    session_id(request)
    csrf_token(request)


def role_of(account: Account | None) -> Role:
    return account.role if account is not None else "resident"


Staff = Annotated[Account, Depends(staff_account)]
Admin = Annotated[Account, Depends(admin_account)]
CSRF = Depends(require_csrf)
