"""The tree of iaewatch's own exceptions.

    IaewatchError
    ├── ConfigError          a file a user wrote is wrong (names file, line, field)
    ├── UnitError            a value's unit cannot be converted to the parameter's unit
    ├── RecordError          a recorded-stream (JSON Lines) line is malformed (names the line)
    ├── ProtocolError        the peer sent something the protocol does not allow
    │   └── DecodeError      bytes that cannot be decoded (bad checksum, bad frame, bad field)
    └── DeviceError          talking to a device failed
        ├── DeviceUnreachable    could not connect
        ├── NoReply              a request got no (complete) answer in time
        └── ConnectionLost       an open link dropped

Foreign exceptions (pymodbus, pyserial, OSError) are translated to these at one boundary per
driver, so callers never catch a library's exception type.
"""

from __future__ import annotations


class IaewatchError(Exception):
    """Base of every error iaewatch raises on purpose."""


class ConfigError(IaewatchError):
    """A configuration, rule set or profile file is invalid."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.field = field
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.file or "<input>"
        if self.line is not None:
            where += f":{self.line}"
        if self.field:
            return f"{where}: {self.field}: {self.message}"
        return f"{where}: {self.message}"


class UnitError(IaewatchError):
    """A unit is unknown or cannot be converted (for instance a per-kg dose without a weight)."""


class RecordError(IaewatchError):
    """A line of a recorded stream is malformed."""

    def __init__(self, message: str, *, line: int | None = None) -> None:
        self.message = message
        self.line = line
        super().__init__(f"line {line}: {message}" if line is not None else message)


class ProtocolError(IaewatchError):
    """The peer broke the protocol."""


class DecodeError(ProtocolError):
    """Bytes that cannot be decoded into a frame or a value."""


class DeviceError(IaewatchError):
    """Talking to a device failed."""


class DeviceUnreachable(DeviceError):
    """The device could not be connected to."""


class NoReply(DeviceError):
    """A request got no complete answer in time. A missing reply always raises, never None."""


class ConnectionLost(DeviceError):
    """An open link to the device dropped."""
