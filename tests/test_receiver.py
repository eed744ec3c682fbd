"""The receiver's C++ parser and watchdog (firmware/), compiled here with g++, fed by the Python
sender through a real pseudo-terminal."""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import threading
import time
import tty
from pathlib import Path

import numpy as np
import pytest
import serial

from sugarglass.outputs import SerialSender, decode_frames, encode_frame

FIRMWARE = Path(__file__).resolve().parents[1] / "firmware"
LEVELS = np.array([0] * 20 + [1500 + 50 * i for i in range(28)], dtype=np.uint16)

def compile_cpp(source: Path, out: Path) -> Path:
    """g++ is a test requirement like chromium (CI installs Debian's g++): missing, it fails."""
    if shutil.which("g++") is None:
        raise RuntimeError("the receiver tests compile the firmware's parser: apt-get install -y g++")
    subprocess.run(["g++", "-std=c++11", "-O2", "-Wall", "-Wextra", "-Werror", "-o", str(out), str(source)],
                   check=True, capture_output=True, text=True)
    return out


@pytest.fixture(scope="module")
def receiver_host(tmp_path_factory) -> Path:
    return compile_cpp(FIRMWARE / "host_test" / "receiver_host.cpp", tmp_path_factory.mktemp("firmware") / "receiver_host")


class Board:
    """The host program on the master side of a pty; ``path`` is the port the sender opens."""

    def __init__(self, binary: Path, capacity: int = 48, watchdog_ms: int = 2000):
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)
        self.process = subprocess.Popen(
            [str(binary), f"fd:{self.master}", "--capacity", str(capacity), "--watchdog-ms", str(watchdog_ms)],
            pass_fds=(self.master,), stdout=subprocess.PIPE, text=True)
        self.events: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        assert self.next("ready")["capacity"] == capacity

    def _read(self) -> None:
        for line in self.process.stdout:
            self.events.put(json.loads(line))

    def next(self, kind: str | None = None, timeout: float = 5.0) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            event = self.events.get(timeout=max(0.01, deadline - time.monotonic()))
            if kind is None or event["event"] == kind:
                return event

    def frames(self, count: int, timeout: float = 5.0) -> list[list[int]]:
        return [self.next("frame", timeout)["levels"] for _ in range(count)]

    def finish(self) -> tuple[list[dict], dict]:
        """Stop the program; every event left, and its counters."""
        self.process.terminate()
        self.process.wait(timeout=5)
        left = []
        while True:
            try:
                left.append(self.events.get(timeout=2))
            except queue.Empty:
                break
            if left[-1]["event"] == "counters":
                return left[:-1], left[-1]
        raise AssertionError(f"no counters line, got {left}")

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        os.close(self.master)
        os.close(self.slave)


@pytest.fixture
def board(receiver_host):
    boards: list[Board] = []

    def make(**options) -> Board:
        boards.append(Board(receiver_host, **options))
        return boards[-1]

    yield make
    for b in boards:
        b.close()


def test_frames_from_the_python_sender_are_decoded_identically(board):
    b = board()
    sent = [LEVELS, np.full(48, 3000, np.uint16), np.zeros(48, np.uint16), np.arange(48, dtype=np.uint16) * 62]
    sender = SerialSender(b.path, rate_hz=0)
    sender.open()
    try:
        for tick, levels in enumerate(sent):
            sender.send(tick, levels, {})
        got = b.frames(len(sent))
    finally:
        sender.close()
    assert got == [s.tolist() for s in sent]
    events, counters = b.finish()
    assert counters["frames"] == 4 and counters["crc_errors"] == counters["watchdog_trips"] == 0


def test_crc_errors_are_counted_and_skipped_and_garbage_resynced(board):
    b = board()
    first, second = encode_frame(LEVELS), encode_frame(LEVELS[::-1].copy())
    corrupt = bytearray(first)
    corrupt[10] ^= 0xFF
    bad_end = bytearray(second)
    bad_end[-1] = 0x00
    with serial.Serial(b.path, 115200, timeout=1) as port:
        port.write(b"\x00garbage\xa5\x03\x00" + first + bytes(corrupt) + b"\x13\x11\r\n" + bytes(bad_end) + second)
        port.flush()
        assert b.frames(2) == [LEVELS.tolist(), LEVELS[::-1].tolist()]
    _, counters = b.finish()
    assert counters["frames"] == 2
    assert counters["crc_errors"] == 1 and counters["end_errors"] == 1 and counters["length_errors"] >= 1
    assert counters["resyncs"] >= 2 and counters["skipped"] > 0


@pytest.mark.parametrize("capacity", [48, 4096])
def test_parser_matches_decode_frames_on_a_random_stream(board, capacity):
    rng = np.random.default_rng(12)
    stream = bytearray()
    for _ in range(400):
        frame = bytearray(encode_frame(rng.integers(0, 3001, int(rng.integers(1, 70)))))
        kind = int(rng.integers(6))
        if kind == 1:
            frame[int(rng.integers(1, len(frame)))] ^= 1 << int(rng.integers(8))
        elif kind == 2:
            frame[-1] = int(rng.integers(256))
        elif kind == 3:
            frame = frame[: int(rng.integers(1, len(frame)))]
        elif kind == 4:
            frame = bytearray(rng.choice([0xA5, 0x5A, 0x00, 0x60, 0xFF], size=int(rng.integers(1, 12))).astype(np.uint8))
        elif kind == 5:
            frame = bytearray([0xA5, int(rng.integers(256)), int(rng.integers(256))])
        stream += frame
    expected, _ = decode_frames(bytes(stream), max_levels=capacity)
    b = board(capacity=capacity)
    for i in range(0, len(stream), 997):
        os.write(b.slave, stream[i : i + 997])
    got = b.frames(len(expected), timeout=10)
    events, counters = b.finish()
    assert not [e for e in events if e["event"] == "frame"], "no frame beyond those decode_frames finds"
    assert got == [f.tolist() for f in expected]
    assert counters["frames"] == len(expected) >= 30
    assert counters["crc_errors"] > 10 and counters["resyncs"] > 10


def test_watchdog_switches_everything_off_after_silence_and_the_next_frame_back_on(board):
    b = board(watchdog_ms=300)
    sender = SerialSender(b.path, rate_hz=0)
    sender.open()
    try:
        sender.send(0, LEVELS, {})
        frame = b.next("frame")
        off = b.next("watchdog_off", timeout=3)
        sender.send(1, LEVELS + 1, {})
        back = b.next("frame")
    finally:
        sender.close()
    assert 300 <= off["ms"] - frame["ms"] < 400, "off within one poll of the watchdog time"
    assert off["silent_ms"] >= 300
    assert back["levels"] == (LEVELS + 1).tolist()
    _, counters = b.finish()
    assert counters["watchdog_trips"] == 1 and counters["frames"] == 2


def test_the_live_loop_keeps_the_receiver_awake_through_long_ticks_and_switches_it_off_at_the_end(board, tmp_path):
    import threading

    from support import small_demo_work
    from sugarglass.live.hub import LiveHub
    from sugarglass.live.loop import Installation
    from sugarglass.work import load_work

    b = board(watchdog_ms=300)
    work = load_work(small_demo_work(tmp_path, {"tick_seconds": 1.0},  # a tick of a second: three watchdog periods
                                     outputs=[{"kind": "serial", "port": b.path, "rate_hz": 50, "heartbeat_ms": 100}]))
    installation = Installation(work, work.live, LiveHub(), tmp_path / "out", max_ticks=3)
    installation.run(threading.Event())
    [sender] = installation.outputs.outputs
    events, counters = b.finish()
    assert counters["watchdog_trips"] == 0, "the host never fell silent while it ran"
    assert sender.heartbeats >= 2 * 7 and counters["frames"] == 3 + sender.heartbeats + 1
    frames = [e["levels"] for e in events if e["event"] == "frame"]
    assert frames[-1] == [0] * 48, "every element off when the run stops"


def test_the_arduino_sketch_builds_against_the_arduino_api(tmp_path):
    binary = compile_cpp(FIRMWARE / "host_test" / "sketch_main.cpp", tmp_path / "sketch")
    assert subprocess.run([str(binary)], timeout=10).returncode == 0
