"""Outputs: where each tick's levels go — files, OSC, a serial port — all at once.

Each output has ``open()``, ``send(tick, levels, metrics)`` and ``close()``. ``Outputs`` opens
them all before the first tick (so a bad host or port stops the run before work starts) and
keeps one output's failure from stopping the others.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Protocol

import numpy as np

from .config import LevelsFileOutput, OscOutput, OutputConfig, SerialOutput
from .levels_file import LevelsFile
from .osc import OscSender
from .serial_frame import SerialSender, decode_frames, encode_frame

log = logging.getLogger("sugarglass.outputs")


class Output(Protocol):
    name: str

    def open(self) -> None: ...

    def send(self, tick: int, levels: np.ndarray, metrics: dict[str, float]) -> None: ...

    def close(self, complete: bool = True) -> None: ...


def make_output(config: OutputConfig, out_dir: Path) -> Output:
    if isinstance(config, LevelsFileOutput):
        return LevelsFile(out_dir / config.path, config.format)
    if isinstance(config, OscOutput):
        return OscSender(config.host, config.port, config.prefix)
    return SerialSender(config.port, config.baud, config.rate_hz, config.retry_seconds)


class Outputs:
    """All of a run's outputs as one."""

    def __init__(self, outputs: list[Output]):
        self.outputs = outputs
        self.errors: dict[str, int] = {}

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
        for output in self.outputs:
            try:
                output.send(tick, levels, metrics)
            except Exception as exc:  # noqa: BLE001 - one output's fault must not stop the others
                self.errors[output.name] = self.errors.get(output.name, 0) + 1
                log.error("%s failed at tick %d: %s", output.name, tick, exc)

    def __exit__(self, kind: type | None, *rest: object) -> None:
        for output in self.outputs:
            output.close(complete=kind is None)


__all__ = ["LevelsFile", "OscSender", "Output", "OutputConfig", "Outputs", "SerialSender", "decode_frames",
           "encode_frame", "make_output", "LevelsFileOutput", "OscOutput", "SerialOutput"]
