"""What a running service shares: `AppContext`.

The context is built once per app in its lifespan (`app.state.ctx`) and handed to every
service the app runs (pipeline, drivers), so nothing lives in module-level globals. It only
holds the parts; none of them imports it back.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app.alert_desk import AlertDesk
from app.live.registry import DeviceRegistry
from app.live.views import Views
from app.metrics import IngestCounters
from app.outbound.health import OutboundHealth
from app.settings import Settings
from app.store import Store
from app.ws.hub import Hub
from core.bus import Bus
from core.clock import Clock


@dataclass(slots=True)
class AppContext:
    """The running service's parts."""

    settings: Settings
    clock: Clock
    bus: Bus
    store: Store
    alerts: AlertDesk
    hub: Hub
    views: Views
    devices: DeviceRegistry
    metrics: IngestCounters
    outbound: OutboundHealth = field(default_factory=OutboundHealth)
