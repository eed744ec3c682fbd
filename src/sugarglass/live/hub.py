"""The hub between the perpetual run (a thread) and the live server (asyncio).

The run publishes one `Frame` a tick; every viewer's WebSocket gets it through its own queue, so
many viewers see the same painting at the same moment. Admin commands go the other way, through a
queue the run drains once a tick. Visitors' words do not pass through here: the form stores them
before it answers, and the run reads them from the store, so a stop loses none. Nothing here
touches the store or the society: the hub only carries plain records between the two sides.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Literal

import numpy as np


@dataclass(frozen=True, slots=True)
class Frame:
    """What every viewer is sent for one tick.

    ``levels``: one uint16 per element, 0..3000, row-major. ``field``: the coarse plate
    temperature as float32 [rows, columns] in degrees C, when the run renders a canvas.
    ``ripples``: element indices where a visitor's words just entered, for the page to answer.
    """

    tick: int
    levels: np.ndarray
    field: np.ndarray | None
    ripples: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Command:
    """An admin action for the run: ``pause``, ``resume``."""

    action: Literal["pause", "resume"]


@dataclass
class Overlay:
    """What the overlay shows: updated by the run, read by the server."""

    work: str = ""
    seed: int = 0
    tick: int = 0
    population: int = 0
    price: float = float("nan")
    sources: dict[str, int] = field(default_factory=dict)
    paused: bool = False


class LiveHub:
    """Thread-safe meeting point; one per running installation."""

    def __init__(self, columns: int = 6, rows: int = 8, history: int = 600):
        self.columns, self.rows = columns, rows
        self._lock = threading.Lock()
        self._latest: Frame | None = None
        self._last_ripple: Frame | None = None
        self._listeners: dict[asyncio.Queue, asyncio.AbstractEventLoop] = {}
        self._metrics: dict[str, deque] = {}
        self._history = history
        self._commands: deque[Command] = deque()
        self.overlay = Overlay()
        self.ready = True  # False while a run starts: the form then asks visitors to wait a moment

    # -- the run's side -----------------------------------------------------------------------

    def publish(self, frame: Frame, metrics: dict[str, float]) -> None:
        """A new tick: remember it, extend the chart history, wake every viewer."""
        with self._lock:
            self._latest = frame
            if frame.ripples:
                self._last_ripple = frame
            for name, value in metrics.items():
                self._metrics.setdefault(name, deque(maxlen=self._history)).append(float(value))
            listeners = list(self._listeners.items())
        for queue, loop in listeners:
            loop.call_soon_threadsafe(_offer, queue, frame)

    def take_commands(self) -> list[Command]:
        with self._lock:
            taken = list(self._commands)
            self._commands.clear()
        return taken

    # -- the server's side ----------------------------------------------------------------------

    def latest(self) -> Frame | None:
        with self._lock:
            return self._latest

    def last_ripple(self) -> Frame | None:
        """The last frame in which visitors' words rippled: it stays readable after later
        ticks have replaced the latest frame."""
        with self._lock:
            return self._last_ripple

    def metrics_history(self) -> dict[str, list[float]]:
        with self._lock:
            return {name: list(values) for name, values in self._metrics.items()}

    def command(self, command: Command) -> None:
        with self._lock:
            self._commands.append(command)

    def subscribe(self) -> asyncio.Queue:
        """A queue of frames for one viewer (call from the server's event loop). A slow viewer
        keeps only the newest frame rather than falling behind."""
        queue: asyncio.Queue = asyncio.Queue(maxsize=1)
        with self._lock:
            self._listeners[queue] = asyncio.get_running_loop()
        return queue

    def unsubscribe(self, queue: asyncio.Queue) -> None:
        with self._lock:
            self._listeners.pop(queue, None)

    @property
    def viewers(self) -> int:
        with self._lock:
            return len(self._listeners)


def _offer(queue: asyncio.Queue, frame: Frame) -> None:
    if queue.full():
        queue.get_nowait()
    queue.put_nowait(frame)
