"""Staff authentication: bearer tokens, or a paired screen's HttpOnly session cookie.

Cookie-authenticated requests that change state must carry `X-Requested-With: tablehub`;
browsers do not let another site set that header without CORS, which the hub never grants."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from hub.domain import tokens
from hub.errors import AuthError, Forbidden
from hub.store import repos
from hub.store.db import Store
from hub.web.keys import SERVICES

COOKIE = "th_staff"
CSRF_HEADER = "X-Requested-With"
CSRF_VALUE = "tablehub"
SESSION_MAX_AGE_S = 400 * 24 * 3600


@dataclass(frozen=True, slots=True)
class Staff:
    token_id: str
    role: str
    label: str
    via_cookie: bool


async def staff_from_token(store: Store, token: str) -> Staff | None:
    if not token or len(token) > 200:
        return None
    row = await repos.find_staff_token(store, tokens.hash_staff_token(token))
    if row is None or row["revoked_at"] is not None:
        return None
    return Staff(row["id"], row["role"], row["label"], via_cookie=False)


async def current_staff(request: web.Request) -> Staff | None:
    store: Store = request.app[SERVICES].store
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return await staff_from_token(store, header[7:].strip())
    cookie = request.cookies.get(COOKIE)
    if cookie:
        staff = await staff_from_token(store, cookie)
        if staff is not None:
            return Staff(staff.token_id, staff.role, staff.label, via_cookie=True)
    return None


async def require(request: web.Request, action: str) -> Staff:
    staff = await current_staff(request)
    if staff is None:
        raise AuthError("staff sign-in needed: a bearer token or a paired screen", field="token")
    if not tokens.allowed(staff.role, action):
        needed = " or ".join(r for r in tokens.ROLES if tokens.allowed(r, action))
        raise Forbidden(
            f"the {staff.role} role may not do this; it needs the {needed} role", field="token"
        )
    if (
        staff.via_cookie
        and request.method not in ("GET", "HEAD")
        and request.headers.get(CSRF_HEADER) != CSRF_VALUE
    ):
        raise Forbidden(f"header {CSRF_HEADER}: {CSRF_VALUE} is required", field=CSRF_HEADER)
    return staff


def safe_next(nxt: str | None, fallback: str = "/admin") -> str:
    """Where a paired device goes next: a local absolute path only, never another site."""
    if not nxt or not nxt.startswith("/") or nxt.startswith("//") or "\\" in nxt:
        return fallback
    if any(c.isspace() or ord(c) < 32 for c in nxt):
        return fallback
    return nxt


def set_session(resp: web.StreamResponse, token: str, *, secure: bool) -> None:
    """The paired device's session: its staff token in an HttpOnly, SameSite=Strict cookie."""
    resp.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="Strict",
        path="/",
        max_age=SESSION_MAX_AGE_S,
        secure=secure,
    )
