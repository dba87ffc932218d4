"""Who may read `/metrics`: Prometheus with `IAEWATCH_METRICS_TOKEN`, or an engineer or admin.

Bed names and device addresses are in the metrics, so they are not public. Prometheus sends
the token as `Authorization: Bearer <token>` (`authorization: {credentials: ...}` in its
scrape config); the comparison is constant-time.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.api.deps import Ctx
from app.auth import AuthError, authenticate_token
from app.store.rows import Role

_bearer = HTTPBearer(auto_error=False, description="IAEWATCH_METRICS_TOKEN or an access token")
_READERS = frozenset({Role.ENGINEER, Role.ADMIN})


async def metrics_reader(
    ctx: Ctx, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    """Let the scrape through, or 401/403."""
    if creds is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="send Authorization: Bearer <metrics token or access token>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    wanted = ctx.settings.metrics_token
    if wanted is not None and hmac.compare_digest(
        creds.credentials.encode(), wanted.get_secret_value().encode()
    ):
        return
    try:
        user = await authenticate_token(ctx, creds.credentials)
    except AuthError as exc:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, detail=str(exc), headers={"WWW-Authenticate": "Bearer"}
        ) from None
    if user.role not in _READERS:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="needs the role admin or engineer")
