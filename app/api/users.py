"""`/api/users`: accounts (admins only)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from app.api.deps import Ctx
from app.auth import AdminUser
from app.openapi_errors import conflict
from app.schemas import UserIn, UserOut
from app.security import hash_password
from app.store.errors import DuplicateError

router = APIRouter(prefix="/api/users", tags=["users"])


@router.get("", response_model=list[UserOut])
async def list_users(ctx: Ctx, _admin: AdminUser) -> list[UserOut]:
    return [
        UserOut(username=u.username, role=u.role, disabled=u.disabled)
        for u in await ctx.store.list_users()
    ]


@router.post("", response_model=UserOut, status_code=201, responses=conflict("the name is taken"))
async def add_user(body: UserIn, ctx: Ctx, admin: AdminUser) -> UserOut:
    """Create an account (409 when the name is taken)."""
    try:
        await ctx.store.add_user(body.username, body.role, hash_password(body.password))
    except DuplicateError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from None
    await ctx.store.audit(
        actor=admin.username,
        action="user_add",
        target=body.username,
        details={"role": body.role.value},
        t=ctx.clock.now(),
    )
    return UserOut(username=body.username, role=body.role)
