"""`/api/auth`: exchange a user name and password for an access token."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, status

from app.api.deps import Ctx
from app.auth import AdminUser, CurrentUser, LoginFailed, issue_token, login
from app.login_guard import LoginGuard, client_address, login_guard, too_many
from app.schemas import LoginIn, TokenOut, UnlockIn, UnlockOut, UserOut

Guard = Annotated[LoginGuard, Depends(login_guard)]

router = APIRouter(prefix="/api/auth", tags=["auth"])


@router.post(
    "/login",
    response_model=TokenOut,
    responses={401: {"description": "wrong name or password"}, 429: {"description": "throttled"}},
)
async def post_login(body: LoginIn, ctx: Ctx, guard: Guard, request: Request) -> TokenOut:
    """A bearer token for the user (401 for a wrong name or password; 429 with Retry-After
    while the account or address is throttled or locked: `app.login_guard`; a failure that
    locks the account or the address is audited as `login.locked`)."""
    now = ctx.clock.now()
    address = client_address(request)
    refusal = await guard.check(ctx.store, body.username, address)
    if refusal is not None:
        raise too_many(refusal)
    try:
        username, role = await login(ctx, body.username, body.password)
    except LoginFailed as exc:
        locked = await guard.failed(ctx.store, body.username, address, known=exc.known)
        if locked:  # one entry per lockout, not per guess: failures are the counters' rows
            await ctx.store.audit(
                actor=body.username if exc.known else "-",
                action="login.locked",
                target=body.username if exc.known else address,
                details={"address": address, "locked": locked},
                t=now,
            )
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, detail=str(exc), headers={"WWW-Authenticate": "Bearer"}
        ) from None
    await guard.succeeded(ctx.store, username)
    token, expires = issue_token(ctx, username, role)
    await ctx.store.audit(actor=username, action="login", target=username, details={}, t=now)
    return TokenOut(access_token=token, username=username, role=role, expires_at=expires)


@router.post("/refresh", response_model=TokenOut, responses={401: {"description": "expired"}})
async def post_refresh(ctx: Ctx, user: CurrentUser) -> TokenOut:
    """A new token for the holder of a valid one, no password: a station on duty refreshes
    before its token expires, so its session lasts as long as the shift (a disabled account,
    a changed secret or an expired token still get 401)."""
    token, expires = issue_token(ctx, user.username, user.role)
    return TokenOut(access_token=token, username=user.username, role=user.role, expires_at=expires)


@router.get("/me", response_model=UserOut)
async def get_me(user: CurrentUser) -> UserOut:
    """Who the token belongs to."""
    return UserOut(username=user.username, role=user.role)


@router.post("/unlock", response_model=UnlockOut)
async def post_unlock(body: UnlockIn, ctx: Ctx, guard: Guard, admin: AdminUser) -> UnlockOut:
    """Lift a login lockout (admins; audited): an account, an address, or both."""
    account = await guard.unlock(ctx.store, body.username) if body.username else False
    address = await guard.unlock_address(ctx.store, body.address) if body.address else False
    await ctx.store.audit(
        actor=admin.username,
        action="login.unlock",
        target=body.username or body.address or "",
        details={
            "username": body.username,
            "address": body.address,
            "was_locked": account or address,
        },
        t=ctx.clock.now(),
    )
    return UnlockOut(was_locked=account or address)
