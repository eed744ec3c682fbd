"""A framed binary packet per tick to a serial port, paced, surviving an unplugged cable.

Frame (all integers little-endian):

    0xA5 | length: uint16 = 2 * n | n x level: uint16 (0..3000) | crc: uint16 | 0x5A

The CRC is CRC-16/CCITT-FALSE (polynomial 0x1021, initial 0xFFFF) over the length and level
bytes. A receiver waits for 0xA5, reads the length, the levels and the CRC, and accepts the frame
only if the CRC matches and the next byte is 0x5A; anything else, it waits for the next 0xA5.
``firmware/sugarglass_receiver/sugarglass_frame.h`` is that receiver in C++, byte for byte the
same as ``decode_frames``, with a watchdog that switches the elements off when the host falls
silent; the sender repeats its last frame as a heartbeat so that silence means trouble.
"""

from __future__ import annotations

import binascii
import logging
import struct

import numpy as np

from ..errors import SugarglassError
from ..readout import FULL
from .timing import Pace

START, END = 0xA5, 0x5A
MAX_LEVELS = 4096
log = logging.getLogger("sugarglass.outputs")


def encode_frame(levels: np.ndarray) -> bytes:
    values = np.asarray(levels)
    if values.ndim != 1 or values.size == 0 or values.size > MAX_LEVELS:
        raise ValueError(f"a frame holds 1..{MAX_LEVELS} levels, not an array of shape {values.shape}")
    if not np.all(np.isfinite(values)) or values.min() < 0 or values.max() > FULL:
        raise ValueError(f"levels must lie in 0..{FULL}")
    body = struct.pack("<H", 2 * values.size) + values.astype("<u2").tobytes()
    return bytes([START]) + body + struct.pack("<H", binascii.crc_hqx(body, 0xFFFF)) + bytes([END])


def decode_frames(data: bytes, max_levels: int = MAX_LEVELS) -> tuple[list[np.ndarray], bytes]:
    """Every valid frame in ``data`` and the unread tail; bytes that do not form a frame are
    skipped the way a receiver would skip them. ``max_levels`` is the receiver's capacity: a
    longer length reads as a bad one, as on a board with room for only its own grid."""
    frames, position = [], 0
    while True:
        start = data.find(bytes([START]), position)
        if start < 0 or len(data) - start < 3:
            return frames, data[start:] if start >= 0 else b""
        (length,) = struct.unpack_from("<H", data, start + 1)
        if length == 0 or length % 2 or length > 2 * max_levels:
            position = start + 1
            continue
        end = start + 3 + length + 2
        if len(data) <= end:
            return frames, data[start:]
        body = data[start + 1 : start + 3 + length]
        (crc,) = struct.unpack_from("<H", data, start + 3 + length)
        if crc == binascii.crc_hqx(body, 0xFFFF) and data[end] == END:
            frames.append(np.frombuffer(body[2:], dtype="<u2").astype(np.uint16))
            position = end + 1
        else:
            position = start + 1


class SerialSender:
    """Writes one frame per tick, at most ``rate_hz`` frames a second (waiting when ticks come
    faster, so the elements get the time they need), and the last frame again from
    ``heartbeat()`` once ``heartbeat_ms`` have passed without one. A write that fails (cable
    unplugged) is logged; the port is reopened after a wait that doubles up to a minute, and
    frames due in the meantime are dropped and counted, so the run's other outputs never wait
    on it."""

    hardware = True

    def __init__(self, port: str, baud: int = 115200, rate_hz: float = 10.0, retry_seconds: float = 2.0,
                 heartbeat_ms: int = 500):
        self.port, self.baud, self.rate_hz, self.retry_seconds = port, baud, rate_hz, retry_seconds
        self.name = f"serial {port}"
        self.pace = Pace(rate_hz, heartbeat_ms / 1000.0)
        self._serial = None
        self._frame: bytes | None = None
        self._tick = 0
        self._next_retry = 0.0
        self._wait = retry_seconds
        self.dropped = 0
        self.heartbeats = 0

    @property
    def heartbeat_seconds(self) -> float:
        return self.pace.heartbeat_s

    def _connect(self):
        import serial

        return serial.Serial(self.port, self.baud, timeout=1, write_timeout=1)

    def open(self) -> None:
        import serial

        try:
            self._serial = self._connect()
        except (serial.SerialException, OSError) as exc:
            raise SugarglassError(f"serial output: cannot open port {self.port!r} ({exc})") from None

    def send(self, tick: int, levels: np.ndarray, metrics: dict[str, float]) -> None:
        self._frame, self._tick = encode_frame(levels), tick
        self._write(self._frame, tick)

    def heartbeat(self) -> None:
        """The last frame again, if none has gone for ``heartbeat_ms``: a tick that lasts longer
        than the receiver's watchdog must not read as a dead host."""
        if self._frame is not None and self.pace.heartbeat_due() and self._write(self._frame, self._tick, wait=False):
            self.heartbeats += 1

    def off(self, levels: np.ndarray) -> None:
        """Every element off before the port closes (``levels`` are the off levels)."""
        if self._serial is not None:
            self._write(encode_frame(levels), self._tick)

    def _write(self, frame: bytes, tick: int, wait: bool = True) -> bool:
        import serial

        now = self.pace.clock()
        if self._serial is None:
            if now < self._next_retry:
                self.dropped += 1
                return False
            try:
                self._serial = self._connect()
                log.info("%s: reconnected at tick %d", self.name, tick)
                self._wait = self.retry_seconds
            except (serial.SerialException, OSError) as exc:
                self._lost(now, tick, exc)
                return False
        if wait:
            now = self.pace.wait()
        try:
            self._serial.write(frame)
            self._serial.flush()
        except (serial.SerialException, OSError) as exc:
            self._lost(now, tick, exc)
            return False
        self.pace.sent(now)
        return True

    def _lost(self, now: float, tick: int, exc: Exception) -> None:
        self.dropped += 1
        if self._serial is not None:
            try:
                self._serial.close()
            except Exception:  # noqa: BLE001 - the port is already gone
                pass
            self._serial = None
        log.warning("%s: lost at tick %d (%s); retrying in %.0f s", self.name, tick, exc, self._wait)
        self._next_retry = now + self._wait
        self._wait = min(self._wait * 2, 60.0)

    def close(self, complete: bool = True) -> None:
        if self._serial is not None:
            self._serial.close()
            self._serial = None
