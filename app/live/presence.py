"""Device presence pushes: a device whose data stops turns `stale` on every station without
any event from its driver (the driver says so only when it gives up on the session).

Once a `tick_s` on the injected clock, `PresenceWatch.check` reads every registered device's
`app.live.views.presence` and publishes the device's dict to the hub when what its dot shows
changed (connected → stale, stale → connected, offline → connecting...). Connection events
are pushed by the pipeline as they happen; this covers the silences between them.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable

from app.context import AppContext
from app.live.views import device_dict, presence
from core.periodic import every, running


class PresenceWatch:
    """Publishes a device's dict when its presence changes; see the module docstring."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.shown: dict[tuple[str, str], str] = {}

    async def check(self) -> int:
        """One look at every device; returns how many changed (and were published)."""
        now = self.ctx.clock.now()
        changed = 0
        for key, provider in self.ctx.devices.items():
            shown, _ = presence(provider, now)
            if self.shown.get(key, shown) != shown:
                changed += 1
                await self.ctx.hub.publish_device(device_dict(*key, provider, now))
            self.shown[key] = shown
        return changed


def presence_service(
    tick_s: float = 1.0,
) -> Callable[[AppContext], contextlib.AbstractAsyncContextManager[PresenceWatch]]:
    """Run a `PresenceWatch` every `tick_s` seconds for the app's lifetime."""

    @contextlib.asynccontextmanager
    async def run(ctx: AppContext) -> AsyncIterator[PresenceWatch]:
        watch = PresenceWatch(ctx)

        async with running(
            every(ctx.clock, tick_s, watch.check, "device presence: check"), "device-presence"
        ):
            yield watch

    return run
