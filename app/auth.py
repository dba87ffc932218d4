"""Access tokens and role checks.

A token is a JWT (HS256, the settings' secret) naming the user, their role and an expiry read
from the injected clock. Every request re-reads the user, so a disabled or deleted account or a
changed role takes effect at once. REST endpoints take `Authorization: Bearer <token>`; the
station websocket takes `?token=`. Roles (issue 15): nurse (acknowledgements, signs and bedside
entries), coordinator (trial data), investigator (all a nurse and a coordinator may do, and
adjudication and e-signatures), engineer (devices; acknowledges technical alerts only),
admin (users, and everything but adjudication and signatures: those are an investigator's).

    CurrentUser       any signed-in user        ClinicalUser   nurse, investigator or admin
    TrialDataUser     coordinator, nurse, investigator or admin
    InvestigatorUser  investigator              EngineerUser   engineer or admin
    AdminUser         admin
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import jwt
from fastapi import Depends, HTTPException, Security, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.api.deps import Ctx
from app.context import AppContext
from app.security import hash_password, verify_password
from app.store.rows import Role
from core.model import Category

ALGORITHM = "HS256"


class AuthError(Exception):
    """A token or a login that does not let its holder in."""


class LoginFailed(AuthError):
    """A wrong user name or password; `known` when the account exists (it is throttled)."""

    def __init__(self, *, known: bool) -> None:
        super().__init__("wrong user name or password")
        self.known = known


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling, as of this request."""

    username: str
    role: Role
    expires_at: datetime


def issue_token(ctx: AppContext, username: str, role: Role) -> tuple[str, datetime]:
    now = ctx.clock.now()
    expires = now + timedelta(seconds=ctx.settings.token_ttl_s)
    claims = {
        "sub": username,
        "role": role.value,
        "iat": int(now.timestamp()),
        "exp": int(expires.timestamp()),
    }
    return jwt.encode(claims, ctx.settings.secret, algorithm=ALGORITHM), expires


async def authenticate_token(ctx: AppContext, token: str) -> Principal:
    """The principal a token stands for, or `AuthError` (bad, expired, or unknown user)."""
    try:
        # expiry is checked against the injected clock below, not the system clock
        claims = jwt.decode(
            token,
            ctx.settings.secret,
            algorithms=[ALGORITHM],
            options={"verify_exp": False, "require": ["sub", "exp"]},
        )
    except jwt.InvalidTokenError:
        raise AuthError("invalid token") from None
    exp = claims.get("exp")
    if not isinstance(exp, int) or ctx.clock.now().timestamp() >= exp:
        raise AuthError("token expired")
    user = await ctx.store.user(str(claims["sub"]))
    if user is None or user.disabled:
        raise AuthError("unknown or disabled user")
    return Principal(user.username, Role(user.role), datetime.fromtimestamp(exp, UTC))


@functools.cache
def _decoy_hash() -> str:
    return hash_password("decoy password, never valid")


async def login(ctx: AppContext, username: str, password: str) -> tuple[str, Role]:
    """Check a password (`LoginFailed` when wrong); the same work is done for unknown users
    (no timing oracle)."""
    user = await ctx.store.user(username)
    if user is None:
        verify_password(password, _decoy_hash())
        raise LoginFailed(known=False)
    if not verify_password(password, user.password_hash) or user.disabled:
        raise LoginFailed(known=True)
    return user.username, Role(user.role)


_bearer = HTTPBearer(auto_error=False, description="POST /api/auth/login for a token")


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "Bearer"}
    )


async def current_user(
    ctx: Ctx,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if creds is None or creds.scheme.lower() != "bearer":
        raise _unauthorized("not signed in: send Authorization: Bearer <token>")
    try:
        return await authenticate_token(ctx, creds.credentials)
    except AuthError as exc:
        raise _unauthorized(str(exc)) from None


CurrentUser = Annotated[Principal, Depends(current_user)]


def require(*roles: Role) -> Any:
    """A dependency letting only `roles` through (403 for the others). The roles are the
    scopes of its bearer requirement, so the OpenAPI document names them per operation."""
    allowed = frozenset(roles)

    async def check(user: CurrentUser) -> Principal:
        if user.role not in allowed:
            names = " or ".join(sorted(r.value for r in allowed))
            raise HTTPException(status.HTTP_403_FORBIDDEN, detail=f"needs the role {names}")
        return user

    return Security(check, scopes=sorted(r.value for r in allowed))


ClinicalUser = Annotated[Principal, require(Role.NURSE, Role.INVESTIGATOR, Role.ADMIN)]
TrialDataUser = Annotated[
    Principal,
    require(Role.COORDINATOR, Role.NURSE, Role.INVESTIGATOR, Role.ADMIN),
]
InvestigatorUser = Annotated[Principal, require(Role.INVESTIGATOR)]
EngineerUser = Annotated[Principal, require(Role.ENGINEER, Role.ADMIN)]
AdminUser = Annotated[Principal, require(Role.ADMIN)]


ACKNOWLEDGES_ALL = frozenset({Role.NURSE, Role.INVESTIGATOR, Role.ADMIN})


def may_acknowledge(role: Role, category: Category) -> bool:
    """Whether `role` may acknowledge an alert of `category`: clinicians any alert, an
    engineer only a technical one, a coordinator none."""
    return role in ACKNOWLEDGES_ALL or (role is Role.ENGINEER and category is Category.TECHNICAL)


def forbidden_ack(role: Role, category: Category) -> str:
    """The reason a role may not acknowledge an alert (for 403 and the websocket)."""
    return f"a {role.value} may not acknowledge a {category.value} alert"
