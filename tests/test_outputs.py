"""Hardware outputs against real peers: a UDP socket, a pseudo-terminal pair, files on disk."""

from __future__ import annotations

import json
import logging
import os
import socket
import time

import numpy as np
import pytest
from pythonosc.osc_bundle import OscBundle

from sugarglass.errors import SugarglassError
from sugarglass.outputs import LevelsFile, OscSender, Outputs, SerialSender, decode_frames, encode_frame

LEVELS = np.array([0] * 20 + [1500 + 50 * i for i in range(28)], dtype=np.uint16)
METRICS = {"population": 181.0, "gini": 0.31}


def test_osc_bundle_arrives_on_a_real_udp_socket():
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    peer.bind(("127.0.0.1", 0))
    peer.settimeout(5)
    sender = OscSender("127.0.0.1", peer.getsockname()[1], "/art")
    sender.open()
    try:
        for tick in range(3):
            sender.send(tick, LEVELS, METRICS)
        bundles = [OscBundle(peer.recv(65536)) for _ in range(3)]
    finally:
        sender.close()
        peer.close()
    messages = {m.address: m.params for m in bundles[2]}
    assert messages["/art/tick"] == [2]
    assert len(messages["/art/levels"]) == 48
    assert messages["/art/levels"][-1] == pytest.approx(2850 / 3000)
    assert messages["/art/metrics/population"] == [181.0]
    assert messages["/art/metrics/gini"] == [pytest.approx(0.31)]


def test_osc_host_that_does_not_resolve_is_a_clear_error():
    with pytest.raises(SugarglassError, match="host 'no-such-host.invalid' does not resolve"):
        OscSender("no-such-host.invalid", 9000).open()


def test_frame_round_trip_skips_junk_and_corruption():
    frame = encode_frame(LEVELS)
    assert frame[0] == 0xA5 and frame[-1] == 0x5A and len(frame) == 1 + 2 + 96 + 2 + 1
    corrupted = bytearray(frame)
    corrupted[10] ^= 0xFF
    frames, tail = decode_frames(b"\x00\xa5junk" + frame + bytes(corrupted) + frame + frame[:7])
    assert len(frames) == 2 and all(np.array_equal(f, LEVELS) for f in frames)
    assert tail == frame[:7]
    for bad in (np.array([3001]), np.array([-1]), np.array([np.nan]), np.zeros((2, 2))):
        with pytest.raises(ValueError):
            encode_frame(bad)


def read_all(fd: int, expected_frames: int, timeout: float = 5.0) -> list[np.ndarray]:
    data, frames, deadline = b"", [], time.monotonic() + timeout
    while len(frames) < expected_frames and time.monotonic() < deadline:
        data += os.read(fd, 4096)
        new, data = decode_frames(data)
        frames += new
    return frames


def test_serial_frames_through_a_real_pseudo_terminal():
    master, slave = os.openpty()
    sender = SerialSender(os.ttyname(slave), rate_hz=50)
    sender.open()
    try:
        started = time.monotonic()
        for tick in range(4):
            sender.send(tick, LEVELS + tick, METRICS)
        elapsed = time.monotonic() - started
        frames = read_all(master, 4)
    finally:
        sender.close()
        os.close(master)
        os.close(slave)
    assert [int(f[-1]) for f in frames] == [2850, 2851, 2852, 2853]
    assert elapsed >= 3 / 50, "frames are paced at rate_hz"


def test_absent_serial_port_is_a_clear_error():
    with pytest.raises(SugarglassError, match="cannot open port '/dev/ttyNOPE0'"):
        SerialSender("/dev/ttyNOPE0").open()


def test_unplugged_serial_is_retried_and_other_outputs_keep_going(tmp_path, caplog):
    master, slave = os.openpty()
    serial_out = SerialSender(os.ttyname(slave), rate_hz=0, retry_seconds=0.05)
    levels_out = LevelsFile(tmp_path / "levels.jsonl")
    with caplog.at_level(logging.WARNING, logger="sugarglass.outputs"), Outputs([serial_out, levels_out]) as outputs:
        outputs.send(0, LEVELS, METRICS)
        assert len(read_all(master, 1)) == 1
        os.close(master)  # the cable is pulled
        for tick in range(1, 6):
            outputs.send(tick, LEVELS, METRICS)
    os.close(slave)
    assert serial_out.dropped >= 1
    assert any("lost at tick 1" in record.message for record in caplog.records)
    lines = (tmp_path / "levels.jsonl").read_text().splitlines()
    assert [json.loads(line)["tick"] for line in lines] == list(range(6))


def test_levels_file_formats_and_no_half_written_file(tmp_path):
    rows = LevelsFile(tmp_path / "rows.txt", "rows-2019")
    with Outputs([rows]) as outputs:
        outputs.send(0, LEVELS, METRICS)
    assert (tmp_path / "rows.txt").read_text().splitlines()[0].split(",")[-1] == "2850"
    failing = LevelsFile(tmp_path / "failed.jsonl")
    with pytest.raises(RuntimeError), Outputs([failing]) as outputs:
        outputs.send(0, LEVELS, METRICS)
        raise RuntimeError("the run broke")
    assert not (tmp_path / "failed.jsonl").exists()
    assert not list(tmp_path.glob("failed.jsonl*"))


def test_out_of_range_levels_are_logged_and_do_not_stop_other_outputs(tmp_path, caplog):
    master, slave = os.openpty()
    serial_out = SerialSender(os.ttyname(slave), rate_hz=0)
    levels_out = LevelsFile(tmp_path / "levels.jsonl")
    bad = LEVELS.astype(np.int64)
    bad[3] = 4000
    with caplog.at_level(logging.ERROR, logger="sugarglass.outputs"), Outputs([serial_out, levels_out]) as outputs:
        outputs.send(0, bad, METRICS)
    os.close(master)
    os.close(slave)
    assert outputs.errors == {serial_out.name: 1}
    assert "levels must lie in 0..3000" in caplog.text
    assert (tmp_path / "levels.jsonl").read_text().count("\n") == 1
