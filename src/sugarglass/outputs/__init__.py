"""Outputs: where each tick's levels go — files, OSC, a serial port, sACN — all at once.

Each output has ``open()``, ``send(tick, levels, metrics)`` and ``close()``; a hardware output
(``hardware = True``) may also have ``heartbeat()`` and ``off(levels)``. ``Outputs`` opens them
all before the first tick (so a bad host or port stops the run before work starts), keeps one
output's failure from stopping the others, and puts the safety limits in front of every
hardware output.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Protocol

import numpy as np

from ..canvas.config import CanvasConfig
from .config import LevelsFileOutput, OscOutput, OutputConfig, SacnOutput, SafetyConfig, SerialOutput
from .levels_file import LevelsFile
from .osc import OscSender
from .sacn import SacnSender, dmx_channels
from .safety import COUNTERS, Limiter
from .serial_frame import SerialSender, decode_frames, encode_frame

log = logging.getLogger("sugarglass.outputs")


class Output(Protocol):
    name: str
    hardware: bool

    def open(self) -> None: ...

    def send(self, tick: int, levels: np.ndarray, metrics: dict[str, float]) -> None: ...

    def close(self, complete: bool = True) -> None: ...


def make_output(config: OutputConfig, out_dir: Path) -> Output:
    if isinstance(config, LevelsFileOutput):
        return LevelsFile(out_dir / config.path, config.format)
    if isinstance(config, OscOutput):
        return OscSender(config.host, config.port, config.prefix)
    if isinstance(config, SacnOutput):
        return SacnSender(config.universe, config.host, config.port, config.channels_per_element, config.start_channel,
                          config.priority, config.rate_hz, config.heartbeat_ms)
    return SerialSender(config.port, config.baud, config.rate_hz, config.retry_seconds, config.heartbeat_ms)


def guarded(outputs: list[Output], safety: SafetyConfig, canvas: CanvasConfig, seconds_per_tick: float) -> Outputs:
    """The run's outputs behind the safety limits, when any of them drives hardware (serial, OSC,
    sACN); levels files alone need no limiter, and its per-tick cost is then saved."""
    hardware = any(getattr(output, "hardware", True) for output in outputs)
    return Outputs(outputs, Limiter(safety, canvas, seconds_per_tick) if hardware else None)


class Outputs:
    """All of a run's outputs as one, behind the safety limits.

    With a ``limiter``, hardware outputs get the limited levels and the limiter's counters are
    added to the tick's ``metrics`` (in place, so whatever the caller does next with that dict,
    the live page, logs, sees them); a levels file gets the society's own levels, with the
    limited ones beside them on the ticks where they differ. Levels the limiter refuses (wrong
    count, out of range) send every element off. On leaving, every hardware output that has
    sent anything is sent every element off before it closes, whether the run ended or broke.
    """

    def __init__(self, outputs: list[Output], limiter: Limiter | None = None):
        self.outputs = outputs
        self.limiter = limiter
        self.errors: dict[str, int] = {}
        self._elements: int | None = None

    def __enter__(self) -> Outputs:
        opened: list[Output] = []
        try:
            for output in self.outputs:
                output.open()
                opened.append(output)
        except BaseException:
            for output in opened:
                output.close(complete=False)
            raise
        return self

    def send(self, tick: int, levels: np.ndarray, metrics: dict[str, float]) -> None:
        limited = self._limit(tick, levels)
        if self.limiter is not None:
            metrics.update(self.limiter.metrics())
        differs = limited is not levels and not np.array_equal(limited, levels)
        for output in self.outputs:
            if getattr(output, "hardware", True):
                self._elements = len(limited)
                self._call(output, tick, output.send, tick, limited, metrics)
            else:
                self._call(output, tick, output.send, tick, levels, metrics, limited if differs else None)

    def rest(self, tick: int) -> None:
        """A tick of a paused run: the hardware is sent every element off (so its heartbeat
        repeats off, not the last picture), and the limiter counts it as a tick of rest and
        cooling. Files are left alone: nothing new happened to record."""
        if self._elements is None:
            return
        off = self.limiter(self.limiter.off_levels) if self.limiter is not None else np.zeros(self._elements, np.uint16)
        for output in self.outputs:
            if getattr(output, "hardware", True):
                self._call(output, tick, output.send, tick, off, {})

    @property
    def heartbeat_seconds(self) -> float:
        """How often ``heartbeat()`` must be called while no tick comes (inf: never)."""
        return min((getattr(o, "heartbeat_seconds", float("inf")) for o in self.outputs), default=float("inf"))

    def heartbeat(self) -> None:
        """Let every hardware output repeat its last levels if it has been quiet too long."""
        for output in self.outputs:
            if hasattr(output, "heartbeat"):
                self._call(output, -1, output.heartbeat)

    def _limit(self, tick: int, levels: np.ndarray) -> np.ndarray:
        if self.limiter is None:
            return levels
        try:
            return self.limiter(levels)
        except Exception as exc:  # noqa: BLE001 - levels that cannot be checked must not reach the hardware
            self.errors["safety"] = self.errors.get("safety", 0) + 1
            log.error("safety: tick %d: %s; the hardware is sent every element off", tick, exc)
            return self.limiter.off_levels

    def _call(self, output: Output, tick: int, method, *args) -> None:
        try:
            method(*args)
        except Exception as exc:  # noqa: BLE001 - one output's fault must not stop the others
            self.errors[output.name] = self.errors.get(output.name, 0) + 1
            log.error("%s failed at tick %d: %s", output.name, tick, exc)

    def __exit__(self, kind: type | None, *rest: object) -> None:
        if self._elements is not None:
            off = self.limiter.off_levels if self.limiter is not None else np.zeros(self._elements, dtype=np.uint16)
            for output in self.outputs:
                if hasattr(output, "off"):
                    self._call(output, -1, output.off, off)
        for output in self.outputs:
            output.close(complete=kind is None)


__all__ = ["COUNTERS", "guarded", "LevelsFile", "Limiter", "OscSender", "Output", "OutputConfig", "Outputs", "SacnOutput",
           "SacnSender", "SafetyConfig", "SerialSender", "decode_frames", "dmx_channels", "encode_frame", "make_output",
           "LevelsFileOutput", "OscOutput", "SerialOutput"]
