"""A Mosquitto of a test's own, on a free port (tests that stop, kill or restart the broker)."""

from __future__ import annotations

import contextlib
import getpass
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from realtime import free_port

MOSQUITTO = shutil.which("mosquitto") or shutil.which("/usr/sbin/mosquitto")
"""The broker binary (None: not installed; tests skip)."""


class Broker:
    """A Mosquitto of the test's own, with persistence (so that a restart keeps the
    station's session, as a production broker with `persistence true` does)."""

    def __init__(self, tmp: Path) -> None:
        self.dir = tmp
        self.port = free_port()
        self.url = f"mqtt://127.0.0.1:{self.port}"
        self.conf = tmp / "mosquitto.conf"
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            f"user {getpass.getuser()}\n"  # as root, do not switch to a user who cannot write tmp
            "max_queued_messages 1000000\n"
            "persistence true\n"
            f"persistence_location {tmp}/\n"
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        assert MOSQUITTO is not None
        self.proc = subprocess.Popen(
            [MOSQUITTO, "-c", str(self.conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port)):
                return
            time.sleep(0.02)
        raise RuntimeError("mosquitto did not start")

    def save(self) -> None:
        """Have the broker write its persistence file now (as it does every autosave)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGUSR1)

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(5)
            self.proc = None
