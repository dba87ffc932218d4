"""Prometheus metrics for one app: a registry of its own and a collector read at scrape time.

Nothing is registered in prometheus_client's global registry, so two apps in one process
(tests) never share counters. Device figures are read from the `DeviceRegistry` when scraped;
open alerts are counted from the store by the `/metrics` endpoint just before it renders.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from app.mqtt import MqttBus
from core.model import Alert

if TYPE_CHECKING:
    from app.live.registry import DeviceRegistry
    from app.outbound.health import OutboundHealth
    from app.ws.hub import Hub

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_DEVICE_STATES = ("connecting", "connected", "disconnected", "stopped")


@dataclass(slots=True)
class IngestCounters:
    """Counts the pipeline adds to as messages come off the bus."""

    observations: int = 0
    events: int = 0
    lag_s: float = 0.0
    """How old the last message handled was (its time to the clock's, at handling): the
    pipeline's delay behind the devices, whatever the cause (bus, broker, overload)."""

    def observed(self, n: int = 1) -> None:
        self.observations += n

    def evented(self, n: int = 1) -> None:
        self.events += n

    def handled(self, age_s: float) -> None:
        self.lag_s = age_s


class ServiceCollector(Collector):
    """Renders the service's live state as metric families when scraped."""

    def __init__(
        self,
        hub: Hub,
        devices: DeviceRegistry,
        ingest: IngestCounters,
        outbound: OutboundHealth | None = None,
        bus: object = None,
    ) -> None:
        self._hub = hub
        self._mqtt = bus if isinstance(bus, MqttBus) else None
        self._devices = devices
        self._ingest = ingest
        self._outbound = outbound
        self._open: Counter[tuple[str, str]] = Counter()

    def set_open_alerts(self, alerts: Iterable[Alert]) -> None:
        """The station's open alerts (read by the endpoint before each scrape)."""
        self._open = Counter((a.category.value, a.priority.value) for a in alerts)

    def collect(self) -> Iterator[Metric]:
        hub = self._hub

        opened = GaugeMetricFamily(
            "iaewatch_alerts_open",
            "Alerts shown at the station (active, or resolved and not yet acknowledged)",
            labels=["category", "priority"],
        )
        for (category, priority), n in sorted(self._open.items()):
            opened.add_metric([category, priority], n)
        yield opened

        transitions = CounterMetricFamily(
            "iaewatch_alert_transitions",
            "Alert transitions pushed to the station since start",
            labels=["category", "priority", "phase"],
        )
        for (category, priority, phase), n in sorted(hub.transitions.items()):
            transitions.add_metric([category, priority, phase], n)
        yield transitions

        yield GaugeMetricFamily(
            "iaewatch_websocket_clients", "Station websocket clients", value=hub.client_count
        )
        yield CounterMetricFamily(
            "iaewatch_websocket_resyncs",
            "Slow station clients whose queue overflowed and were resynchronised",
            value=hub.resyncs,
        )
        yield CounterMetricFamily(
            "iaewatch_observations_ingested",
            "Observations taken off the bus",
            value=self._ingest.observations,
        )
        yield CounterMetricFamily(
            "iaewatch_events_ingested", "Events taken off the bus", value=self._ingest.events
        )
        yield GaugeMetricFamily(
            "iaewatch_pipeline_lag_seconds",
            "Age of the last message the rules pipeline handled (its time to now)",
            value=self._ingest.lag_s,
        )
        yield from _device_metrics(self._devices)
        if self._outbound is not None:
            yield from _outbound_metrics(self._outbound)
        if self._mqtt is not None:
            yield from _mqtt_metrics(self._mqtt)


def _mqtt_metrics(bus: MqttBus) -> Iterator[Metric]:
    """The MQTT bus's outbox, spool and receive counters (docs/reliability.md)."""
    yield GaugeMetricFamily(
        "iaewatch_mqtt_connected", "1 while the broker is connected", value=int(bus.connected)
    )
    yield GaugeMetricFamily(
        "iaewatch_mqtt_pending",
        "Messages not yet confirmed by the broker (outbox, in flight, spool)",
        value=bus.pending,
    )
    for name, value, text in (
        ("sent", bus.sent, "Messages the broker confirmed"),
        ("spooled", bus.spooled, "Messages moved to the on-disk spool"),
        ("replayed", bus.replayed, "Confirmed messages sent again after a lost connection"),
        ("dropped", bus.dropped, "Observation messages dropped by the drop policy"),
        ("duplicates", bus.duplicates, "Exact duplicates received and delivered once"),
        ("bad_messages", bus.bad_messages, "Received messages that were not records"),
    ):
        yield CounterMetricFamily(f"iaewatch_mqtt_{name}", text, value=value)


def _device_metrics(devices: DeviceRegistry) -> Iterator[Metric]:
    labels = ["bed", "device"]
    state = GaugeMetricFamily(
        "iaewatch_device_state",
        "1 for the connection state each device is in",
        labels=[*labels, "state"],
    )
    up = GaugeMetricFamily("iaewatch_device_up", "1 when the device is connected", labels=labels)
    frames = CounterMetricFamily("iaewatch_device_frames", "Frames decoded", labels=labels)
    bad = CounterMetricFamily("iaewatch_device_bad_frames", "Frames rejected", labels=labels)
    reconnects = CounterMetricFamily(
        "iaewatch_device_reconnects", "Connections lost and retried", labels=labels
    )
    for (bed, device_id), provider in devices.items():
        status = provider.status
        for s in _DEVICE_STATES:
            state.add_metric([bed, device_id, s], 1.0 if status.state.value == s else 0.0)
        up.add_metric([bed, device_id], 1.0 if status.state.value == "connected" else 0.0)
        frames.add_metric([bed, device_id], status.frames)
        bad.add_metric([bed, device_id], status.bad_frames)
        reconnects.add_metric([bed, device_id], status.reconnects)
    yield from (state, up, frames, bad, reconnects)


def _outbound_metrics(outbound: OutboundHealth) -> Iterator[Metric]:
    labels = ["endpoint", "kind"]
    up = GaugeMetricFamily(
        "iaewatch_outbound_connected", "1 when the endpoint took the last message", labels=labels
    )
    stopped = GaugeMetricFamily(
        "iaewatch_outbound_stopped", "1 when the endpoint rejected a message (AR)", labels=labels
    )
    depth = GaugeMetricFamily(
        "iaewatch_outbound_queue_depth", "Messages waiting in the outbox", labels=labels
    )
    oldest = GaugeMetricFamily(
        "iaewatch_outbound_oldest_unsent_timestamp_seconds",
        "Unix time of the oldest message waiting (0 when none)",
        labels=labels,
    )
    sent = CounterMetricFamily("iaewatch_outbound_sent", "Messages accepted", labels=labels)
    errors = CounterMetricFamily(
        "iaewatch_outbound_errors", "Failed delivery attempts", labels=labels
    )
    last_error = GaugeMetricFamily(
        "iaewatch_outbound_last_error_info",
        "1, labelled with the endpoint's last error",
        labels=[*labels, "error"],
    )
    for h in outbound:
        key = [h.name, h.kind]
        up.add_metric(key, 1.0 if h.connected else 0.0)
        stopped.add_metric(key, 1.0 if h.state.value == "stopped" else 0.0)
        depth.add_metric(key, h.depth)
        oldest.add_metric(key, h.oldest.timestamp() if h.oldest else 0.0)
        sent.add_metric(key, h.sent)
        errors.add_metric(key, h.errors)
        if h.last_error:
            last_error.add_metric([*key, h.last_error[:200]], 1.0)
    yield from (up, stopped, depth, oldest, sent, errors, last_error)


class AppMetrics:
    """The app's own registry with its collector."""

    def __init__(
        self,
        hub: Hub,
        devices: DeviceRegistry,
        ingest: IngestCounters,
        outbound: OutboundHealth | None = None,
        bus: object = None,
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.collector = ServiceCollector(hub, devices, ingest, outbound, bus)
        self.registry.register(self.collector)

    def render(self) -> bytes:
        return generate_latest(self.registry)
