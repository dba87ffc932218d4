"""The MEDIBUS host session as a state table. No I/O.

    state          event            next state     the host then sends
    ─────────────  ───────────────  ─────────────  ─────────────────────────────────────
    CLOSED         open             INITIALISING   ICC
    INITIALISING   icc_answered     IDENTIFYING    device-id request
    INITIALISING   device_icc       IDENTIFYING    (answers the device's ICC) device-id request
    IDENTIFYING    icc_answered     IDENTIFYING    (our ICC's answer after the device's ICC)
    IDENTIFYING    identified       POLLING        the poll cycle, then NOP while idle
    IDENTIFYING    device_icc       IDENTIFYING    (answers) device-id request again
    POLLING        device_icc       IDENTIFYING    (answers) device-id request: the device
                                                   restarted its side of the link
    POLLING        cycle_done       POLLING        next cycle
    any but CLOSED stop             STOPPING       stop
    STOPPING       stopped          CLOSED         —
    any            failed           CLOSED         — (link dropped, no reply, stale data)

Poll cycle: measured data CP1, measured data CP2, alarms CP1, device settings, text messages
(VSC's request chain; OICE's demo device polls the same set). Either end may open the link with
ICC (XEN answers a device's ICC and only then polls). Commands the device sends are answered
in every state by `answer_device_command`: an empty response echoing the code, except the
device-id request, answered with the host's own identification (VSC; OICE; XEN p.13).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from drivers.medibus.codec import Cmd, Command, Response
from drivers.medibus.layouts import DeviceIdentity, encode_device_id


class State(StrEnum):
    CLOSED = "closed"
    INITIALISING = "initialising"
    IDENTIFYING = "identifying"
    POLLING = "polling"
    STOPPING = "stopping"


class Ev(StrEnum):
    OPEN = "open"
    ICC_ANSWERED = "icc_answered"
    DEVICE_ICC = "device_icc"
    IDENTIFIED = "identified"
    CYCLE_DONE = "cycle_done"
    STOP = "stop"
    STOPPED = "stopped"
    FAILED = "failed"


_LIVE = (State.INITIALISING, State.IDENTIFYING, State.POLLING)

TRANSITIONS: Mapping[tuple[State, Ev], State] = {
    (State.CLOSED, Ev.OPEN): State.INITIALISING,
    (State.INITIALISING, Ev.ICC_ANSWERED): State.IDENTIFYING,
    (State.INITIALISING, Ev.DEVICE_ICC): State.IDENTIFYING,
    (State.IDENTIFYING, Ev.ICC_ANSWERED): State.IDENTIFYING,
    (State.IDENTIFYING, Ev.IDENTIFIED): State.POLLING,
    (State.IDENTIFYING, Ev.DEVICE_ICC): State.IDENTIFYING,
    (State.POLLING, Ev.DEVICE_ICC): State.IDENTIFYING,
    (State.POLLING, Ev.CYCLE_DONE): State.POLLING,
    **{(s, Ev.STOP): State.STOPPING for s in _LIVE},
    (State.STOPPING, Ev.STOPPED): State.CLOSED,
    (State.STOPPING, Ev.DEVICE_ICC): State.STOPPING,
    **{(s, Ev.FAILED): State.CLOSED for s in State},
}
"""(state, event) → next state. A pair not listed is the host's own mistake."""

REQUEST_IN_STATE: Mapping[State, Cmd] = {
    State.INITIALISING: Cmd.ICC,
    State.IDENTIFYING: Cmd.DEVICE_ID,
    State.STOPPING: Cmd.STOP,
}
"""What the host sends on entering a state (POLLING sends `POLL_CYCLE`)."""

POLL_CYCLE: tuple[Cmd, ...] = (
    Cmd.DATA_CP1,
    Cmd.DATA_CP2,
    Cmd.ALARMS_CP1,
    Cmd.SETTINGS,
    Cmd.TEXT,
)

KEEPALIVE_S = 1.5  # NOP after this much quiet; the link dies after 3 s (XEN p.12; OICE 1.5 s)
LINK_TIMEOUT_S = 3.0  # either end drops the link after this long without traffic (XEN p.12)
REPLY_TIMEOUT_S = 10.0  # a response must be complete within 10 s (XEN citing the spec p.12)

HOST_IDENTITY = DeviceIdentity("0161", "iaewatch", "01.00:06.00")
"""What we answer a device's device-id request with. VSC and OICE hosts both send id `0161`;
what a ventilator does with the host's id is unconfirmed."""


class SessionError(RuntimeError):
    """The host code asked for a transition the table does not allow (our bug, not the peer's)."""


class HostSession:
    """The host's side of the table: current state, transitions, answers to device commands."""

    def __init__(self, identity: DeviceIdentity = HOST_IDENTITY) -> None:
        self.state = State.CLOSED
        self.identity = identity

    def handle(self, event: Ev) -> State:
        nxt = TRANSITIONS.get((self.state, event))
        if nxt is None:
            raise SessionError(f"{event.value} is not allowed in state {self.state.value}")
        self.state = nxt
        return nxt

    def answer_device_command(self, command: Command) -> Response:
        """The response to a command the device sent; an ICC also moves the state."""
        if command.code == Cmd.ICC and (self.state, Ev.DEVICE_ICC) in TRANSITIONS:
            self.handle(Ev.DEVICE_ICC)
        if command.code == Cmd.DEVICE_ID:
            return Response(Cmd.DEVICE_ID, encode_device_id(self.identity))
        return Response(command.code)
