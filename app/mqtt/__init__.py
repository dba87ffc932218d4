"""The bus over MQTT between bedside gateways and the station (see `bus.py` for the design)."""

from app.mqtt.bus import MqttBus, station_client_id
from app.mqtt.codec import decode, encode

__all__ = ["MqttBus", "decode", "encode", "station_client_id"]
