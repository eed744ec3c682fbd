"""Open Sound Control over UDP with python-osc: one bundle a tick."""

from __future__ import annotations

import logging
import socket

import numpy as np
from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message_builder import OscMessageBuilder

from ..errors import SugarglassError
from ..readout import FULL

log = logging.getLogger("sugarglass.outputs")


class OscSender:
    """Sends ``{prefix}/tick`` (int), ``{prefix}/levels`` (one float 0..1 per element) and
    ``{prefix}/metrics/<name>`` (float) in one bundle per tick. UDP has no connection to lose:
    a failed send is logged and the next tick tries again."""

    hardware = True

    def __init__(self, host: str, port: int, prefix: str = "/sugarglass"):
        self.host, self.port, self.prefix = host, port, prefix
        self.name = f"OSC {host}:{port}"
        self._socket: socket.socket | None = None
        self._address: tuple | None = None
        self._tick = 0
        self.failures = 0

    def open(self) -> None:
        try:
            family, kind, proto, _, address = socket.getaddrinfo(self.host, self.port, type=socket.SOCK_DGRAM)[0]
        except socket.gaierror as exc:
            raise SugarglassError(f"OSC output: host {self.host!r} does not resolve ({exc.strerror})") from None
        self._socket = socket.socket(family, kind, proto)
        self._address = address

    def bundle(self, tick: int, levels: np.ndarray, metrics: dict[str, float]) -> bytes:
        builder = OscBundleBuilder(IMMEDIATELY)
        builder.add_content(_message(f"{self.prefix}/tick", [int(tick)]))
        builder.add_content(_message(f"{self.prefix}/levels", [float(v) / FULL for v in levels.tolist()]))
        for name, value in metrics.items():
            builder.add_content(_message(f"{self.prefix}/metrics/{name}", [float(value)]))
        return builder.build().dgram

    def send(self, tick: int, levels: np.ndarray, metrics: dict[str, float]) -> None:
        assert self._socket is not None, "open() first"
        self._tick = tick
        try:
            self._socket.sendto(self.bundle(tick, levels, metrics), self._address)
        except OSError as exc:
            self.failures += 1
            log.warning("%s: tick %d not sent (%s); trying again next tick", self.name, tick, exc)

    def off(self, levels: np.ndarray) -> None:
        """Every element off before the socket closes (``levels`` are the off levels), so a
        patch listening for levels is not left holding the last picture."""
        if self._socket is not None:
            self.send(self._tick, levels, {})

    def close(self, complete: bool = True) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None


def _message(address: str, values: list) -> object:
    builder = OscMessageBuilder(address=address)
    for value in values:
        builder.add_arg(value, OscMessageBuilder.ARG_TYPE_INT if isinstance(value, int) else OscMessageBuilder.ARG_TYPE_FLOAT)
    return builder.build()
