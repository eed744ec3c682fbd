"""Clocks the senders share: pacing frames to a rate, repeating them as a heartbeat, and
letting a log line through at most once in a while."""

from __future__ import annotations

import time
from collections.abc import Callable


class Pace:
    """At most ``rate_hz`` frames a second (0: no limit), and a frame again after
    ``heartbeat_s`` without one, so a receiver that switches off on silence hears the host."""

    def __init__(self, rate_hz: float, heartbeat_s: float = float("inf"), clock: Callable[[], float] = time.monotonic):
        self.gap = 1.0 / rate_hz if rate_hz > 0 else 0.0
        self.heartbeat_s = heartbeat_s
        self.clock = clock
        self.last = float("-inf")

    def wait(self) -> float:
        """Sleep until the next frame may go; returns the time it goes."""
        now = self.clock()
        if now < self.last + self.gap:
            time.sleep(self.last + self.gap - now)
            now = self.last + self.gap
        return now

    def sent(self, now: float) -> None:
        self.last = now

    def heartbeat_due(self) -> bool:
        return self.clock() >= self.last + max(self.heartbeat_s, self.gap)


class Every:
    """True at the first call and then at most once per ``seconds``: for log lines that would
    otherwise repeat every tick for as long as a condition lasts."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic):
        self.seconds, self.clock = seconds, clock
        self.next = float("-inf")

    def __call__(self) -> bool:
        now = self.clock()
        if now < self.next:
            return False
        self.next = now + self.seconds
        return True
