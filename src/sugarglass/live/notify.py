"""systemd's notify protocol, so a service manager can tell a live installation from a hung one.

Under a unit with ``Type=notify`` and ``WatchdogSec=``, systemd sets ``NOTIFY_SOCKET`` and
``WATCHDOG_USEC``; the run says ``READY=1`` once it is ticking, ``WATCHDOG=1`` after every tick
(and while it waits between long ticks), ``STATUS=`` with the tick it reached, and ``STOPPING=1``
when it shuts down. A tick that hangs stops the heartbeats and systemd restarts the service, which
resumes from its checkpoint. Without ``NOTIFY_SOCKET`` every call does nothing.

The protocol is one datagram of ``KEY=VALUE`` lines to a Unix socket; it is written here rather
than taken from a package because the maintained binding (systemd-python) needs libsystemd's
headers to build, and the protocol is stable and small (sd_notify(3)).
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

log = logging.getLogger("sugarglass.live")


class Notifier:
    """Messages to the service manager; ``interval`` is how often a heartbeat is due (half the
    watchdog's timeout, as sd_watchdog_enabled(3) advises), or None without a watchdog."""

    def __init__(self, environ: Mapping[str, str] = os.environ):
        address = environ.get("NOTIFY_SOCKET", "")
        self.address: str | bytes | None = None
        if address.startswith("@"):
            self.address = b"\0" + address[1:].encode()  # Linux's abstract namespace
        elif address.startswith("/"):
            self.address = address
        self.interval: float | None = None
        usec, pid = environ.get("WATCHDOG_USEC", ""), environ.get("WATCHDOG_PID", "")
        if usec.isdigit() and int(usec) > 0 and (not pid or pid == str(os.getpid())):
            self.interval = int(usec) / 2e6
        self._socket: socket.socket | None = None
        self.failures = 0

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def send(self, **fields: str) -> None:
        """One datagram; a manager that has gone away is logged once, never raised: the
        artwork keeps running without its supervisor."""
        if self.address is None:
            return
        message = "\n".join(f"{key}={value}" for key, value in fields.items()).encode()
        try:
            if self._socket is None:
                self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._socket.sendto(message, self.address)
        except OSError as exc:
            self.failures += 1
            if self.failures == 1:
                log.warning("the service manager's notify socket refused a message (%s)", exc)

    def ready(self, status: str) -> None:
        self.send(READY="1", STATUS=status)

    def alive(self, status: str | None = None) -> None:
        if status is None:
            self.send(WATCHDOG="1")
        else:
            self.send(WATCHDOG="1", STATUS=status)

    def stopping(self, status: str) -> None:
        self.send(STOPPING="1", STATUS=status)

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None
