"""The WebSocket feed: the binary layout of docs/live.md, and many viewers seeing the same frames."""

from __future__ import annotations

import struct

import numpy as np
from live_support import wait_for
from websockets.sync.client import connect

from sugarglass.live.hub import Frame
from sugarglass.live.server import FRAME_MAGIC, HEADER, encode_frame


def decode(message: bytes) -> dict:
    """The layout as docs/live.md states it, read independently of the encoder."""
    magic, version, flags, n_ripples, tick, columns, rows, f_rows, f_cols, offset, step = struct.unpack_from(
        "<4sBBHdHHHHff", message)
    assert (magic, version) == (b"SGLF", 1)
    at = 32
    levels = np.frombuffer(message, "<u2", columns * rows, at)
    at += 2 * columns * rows
    ripples = np.frombuffer(message, "<u2", n_ripples, at)
    at += 2 * n_ripples
    field = None
    if flags & 1:
        field = offset + np.frombuffer(message, "<u2", f_rows * f_cols, at).reshape(f_rows, f_cols) * np.float64(step)
        at += 2 * f_rows * f_cols
    assert at == len(message)
    return {"tick": int(tick), "columns": columns, "rows": rows, "levels": levels, "ripples": ripples, "field": field}


def test_the_layout_round_trips_levels_ripples_and_field():
    levels = np.arange(48, dtype=np.uint16) * 60
    field = 22.0 + np.random.default_rng(1).random((96, 72)) * 9.0
    message = encode_frame(Frame(12345678901, levels, field.astype(np.float32), (3, 47)), 6, 8)
    assert HEADER.size == 32 and message[:4] == FRAME_MAGIC
    assert len(message) == 32 + 2 * (48 + 2 + 96 * 72)  # small: about 14 kB with a field, 130 bytes without
    got = decode(message)
    assert got["tick"] == 12345678901 and (got["columns"], got["rows"]) == (6, 8)
    assert got["levels"].tolist() == levels.tolist() and got["ripples"].tolist() == [3, 47]
    assert np.abs(got["field"] - field).max() < 0.001
    plain = decode(encode_frame(Frame(1, levels, None), 6, 8))
    assert plain["field"] is None and len(encode_frame(Frame(1, levels, None), 6, 8)) == 128


def test_two_viewers_get_the_same_frames(live):
    with connect(live.ws_url) as one, connect(live.ws_url) as two:
        wait_for(lambda: live.hub.viewers == 2, message="both viewers subscribed")
        first_one, first_two = decode(one.recv(timeout=10)), decode(two.recv(timeout=10))
        assert first_one["tick"] >= 1 and first_two["tick"] >= 1  # the latest frame comes at once
        got_one = [one.recv(timeout=10) for _ in range(6)]
        got_two = [two.recv(timeout=10) for _ in range(6)]
        ticks = [decode(m)["tick"] for m in got_one]
        assert ticks == sorted(set(ticks)) and ticks[0] > first_one["tick"]  # in order, none twice
        seen_one, seen_two = dict(zip(ticks, got_one)), {decode(m)["tick"]: m for m in got_two}
        common = set(seen_one) & set(seen_two)
        assert len(common) >= 4
        assert all(seen_one[t] == seen_two[t] for t in common)  # byte for byte
        levels = decode(got_one[-1])["levels"]
        assert len(levels) == 48 and set(levels.tolist()) - {0} <= set(range(1500, 3001))
    wait_for(lambda: live.hub.viewers == 0, message="viewers unsubscribed on close")
