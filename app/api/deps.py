"""Dependencies every router shares, as `Annotated` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from starlette.requests import HTTPConnection

from app.context import AppContext


def get_ctx(conn: HTTPConnection) -> AppContext:
    """The running app's context (set by the lifespan)."""
    ctx: AppContext = conn.app.state.ctx
    return ctx


Ctx = Annotated[AppContext, Depends(get_ctx)]
