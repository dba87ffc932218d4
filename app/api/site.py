"""`/api/site`: where the ICU is — its name and IANA time zone — for the station page, which
shows every time in the site's zone (before anyone logs in too, hence no token)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel

from app.config import SiteConfig

router = APIRouter(prefix="/api/site", tags=["site"])


class SiteOut(BaseModel):
    name: str
    timezone: str


def site_of(request: Request) -> SiteConfig:
    """The site of the running service (`app.state.site`, set from the ICU config)."""
    site = getattr(request.app.state, "site", None)
    return site if isinstance(site, SiteConfig) else SiteConfig()


@router.get("", response_model=SiteOut)
async def get_site(request: Request) -> SiteOut:
    """The site's name and time zone (no token needed: nothing clinical)."""
    site = site_of(request)
    return SiteOut(name=site.name, timezone=site.timezone)
