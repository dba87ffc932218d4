"""`/api/auth`: exchange a user name and password for an access token."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from app.api.deps import Ctx
from app.auth import AuthError, CurrentUser, issue_token, login
from app.schemas import LoginIn, TokenOut, UserOut

router = APIRouter(prefix="/api/auth", tags=["auth"])


@router.post("/login", response_model=TokenOut)
async def post_login(body: LoginIn, ctx: Ctx) -> TokenOut:
    """A bearer token for the user (401 for a wrong name or password)."""
    now = ctx.clock.now()
    try:
        username, role = await login(ctx, body.username, body.password)
    except AuthError as exc:
        await ctx.store.audit(
            actor=body.username, action="login_failed", target=body.username, details={}, t=now
        )
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, detail=str(exc), headers={"WWW-Authenticate": "Bearer"}
        ) from None
    token, expires = issue_token(ctx, username, role)
    await ctx.store.audit(actor=username, action="login", target=username, details={}, t=now)
    return TokenOut(access_token=token, username=username, role=role, expires_at=expires)


@router.get("/me", response_model=UserOut)
async def get_me(user: CurrentUser) -> UserOut:
    """Who the token belongs to."""
    return UserOut(username=user.username, role=user.role)
