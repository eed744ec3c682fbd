"""sACN (ANSI E1.31): DMX512 over UDP, for grids on DMX dimmers or LED drivers.

The packets are built by the ``sacn`` library; the socket, the pacing and the heartbeat are
ours, and run on the caller's thread, as the serial sender's do: if the run hangs, the packets
stop and the node's loss-of-source timeout (2.5 s in E1.31) takes the elements off, where a
sender thread of its own would go on repeating the last levels for a program that no longer
drives them. Closing sends the stream-terminated packets E1.31 asks for.
"""

from __future__ import annotations

import logging
import socket
import uuid

import numpy as np

from ..errors import SugarglassError
from ..readout import FULL
from .timing import Every, Pace

log = logging.getLogger("sugarglass.outputs")
CHANNELS = 512


def dmx_channels(levels: np.ndarray, channels_per_element: int = 1, start_channel: int = 1) -> tuple[int, ...]:
    """The universe's 512 slots: each level scaled to 8 bits (or 16, coarse slot first),
    rounded down, from ``start_channel`` (1-based, as DMX counts)."""
    values = np.asarray(levels, dtype=np.int64)
    first = start_channel - 1 + values.size * channels_per_element
    if first > CHANNELS:
        raise ValueError(f"{values.size} elements x {channels_per_element} channel(s) from channel {start_channel} "
                         f"need channels up to {first}; a universe has {CHANNELS}")
    if channels_per_element == 1:
        slots = values * 255 // FULL
    else:
        wide = values * 65535 // FULL
        slots = np.stack([wide >> 8, wide & 0xFF], axis=1).ravel()
    data = np.zeros(CHANNELS, dtype=np.int64)
    data[start_channel - 1 : first] = slots
    return tuple(int(v) for v in data)


class SacnSender:
    """One E1.31 data packet per tick (at most ``rate_hz`` a second) to a node or to the
    universe's multicast group, and the last one again from ``heartbeat()``. A failed send is
    logged (once a minute at most) and counted; the next tick tries again."""

    hardware = True

    def __init__(self, universe: int = 1, host: str | None = None, port: int = 5568, channels_per_element: int = 1,
                 start_channel: int = 1, priority: int = 100, rate_hz: float = 30.0, heartbeat_ms: int = 800):
        self.universe, self.host, self.port = universe, host, port
        self.channels_per_element, self.start_channel, self.priority = channels_per_element, start_channel, priority
        self.name = f"sACN universe {universe} to {host or 'multicast'}:{port}"
        self.pace = Pace(rate_hz, heartbeat_ms / 1000.0)
        # a source keeps its CID across restarts, so a node sees the same source come back
        self.cid = tuple(uuid.uuid5(uuid.NAMESPACE_URL, f"sugarglass:sacn:{host}:{universe}").bytes)
        self._socket: socket.socket | None = None
        self._address: tuple | None = None
        self._data: tuple[int, ...] | None = None
        self._sequence = 0
        self._warn = Every(60.0)
        self.failures = 0

    @property
    def heartbeat_seconds(self) -> float:
        return self.pace.heartbeat_s

    def open(self) -> None:
        host = self.host or f"239.255.{self.universe >> 8}.{self.universe & 0xFF}"
        try:
            family, kind, proto, _, address = socket.getaddrinfo(host, self.port, type=socket.SOCK_DGRAM)[0]
        except socket.gaierror as exc:
            raise SugarglassError(f"sACN output: host {host!r} does not resolve ({exc.strerror})") from None
        self._socket = socket.socket(family, kind, proto)
        self._address = address

    def packet(self, data: tuple[int, ...], terminated: bool = False) -> bytes:
        from sacn import DataPacket

        packet = DataPacket(cid=self.cid, sourceName="Sugarglass", universe=self.universe, dmxData=data,
                            priority=self.priority, sequence=self._sequence, streamTerminated=terminated)
        self._sequence = (self._sequence + 1) % 256
        return bytes(packet.getBytes())

    def send(self, tick: int, levels: np.ndarray, metrics: dict[str, float]) -> None:
        self._data = dmx_channels(levels, self.channels_per_element, self.start_channel)
        self._send(self._data, tick, self.pace.wait())

    def heartbeat(self) -> None:
        if self._data is not None and self.pace.heartbeat_due():
            self._send(self._data, -1, self.pace.clock())

    def off(self, levels: np.ndarray) -> None:
        """Every element off, then the stream-terminated packets that tell the node to let go."""
        data = dmx_channels(levels, self.channels_per_element, self.start_channel)
        self._send(data, -1, self.pace.wait())
        for _ in range(3):
            self._send(data, -1, self.pace.clock(), terminated=True)

    def _send(self, data: tuple[int, ...], tick: int, now: float, terminated: bool = False) -> None:
        assert self._socket is not None, "open() first"
        try:
            self._socket.sendto(self.packet(data, terminated), self._address)
        except OSError as exc:
            self.failures += 1
            if self._warn():
                log.warning("%s: not sent at tick %d (%s; %d failure(s) so far); trying again", self.name, tick, exc,
                            self.failures)
            return
        self.pace.sent(now)

    def close(self, complete: bool = True) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None
