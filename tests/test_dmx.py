"""sACN (E1.31) against a real UDP socket on loopback; the packets are read here from the
standard's layout, not with the library that built them."""

from __future__ import annotations

import logging
import socket
import struct
import time

import numpy as np
import pytest

from sugarglass.canvas.config import CanvasConfig
from sugarglass.errors import SugarglassError
from sugarglass.outputs import Limiter, Outputs, SacnOutput, SacnSender, SafetyConfig, make_output

LEVELS = np.array([0] * 20 + [1500 + 50 * i for i in range(28)], dtype=np.uint16)
ACN_ID = b"ASC-E1.17\x00\x00\x00"


def parse(packet: bytes) -> dict:
    """An E1.31 data packet, field by field (E1.31-2016 tables 4-1, 6-1, 7-1)."""
    preamble, postamble, acn_id = struct.unpack_from(">HH12s", packet, 0)
    assert (preamble, postamble, acn_id) == (0x0010, 0x0000, ACN_ID)
    root_flags, root_vector = struct.unpack_from(">HI", packet, 16)
    cid = packet[22:38]
    frame_flags, frame_vector = struct.unpack_from(">HI", packet, 38)
    source = packet[44:108].rstrip(b"\x00").decode()
    priority, sync, sequence, options, universe = struct.unpack_from(">BHBBH", packet, 108)
    dmp_flags, dmp_vector, address_type, first, increment, count = struct.unpack_from(">HBBHHH", packet, 115)
    assert (root_vector, frame_vector, dmp_vector, address_type, first, increment) == (4, 2, 2, 0xA1, 0, 1)
    for flags, offset in ((root_flags, 16), (frame_flags, 38), (dmp_flags, 115)):
        assert flags >> 12 == 0x7 and flags & 0xFFF == len(packet) - offset, "flags and length of each layer"
    assert packet[125] == 0, "start code: dimmer levels"
    return {"cid": cid, "source": source, "priority": priority, "sequence": sequence, "universe": universe,
            "terminated": bool(options & 0x40), "slots": list(packet[126 : 125 + count])}


@pytest.fixture
def node():
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    peer.bind(("127.0.0.1", 0))
    peer.settimeout(5)
    yield peer
    peer.close()


def receive(peer: socket.socket, count: int) -> list[dict]:
    return [parse(peer.recv(2048)) for _ in range(count)]


def test_16_bit_levels_arrive_from_the_start_channel(node):
    sender = SacnSender(universe=7, host="127.0.0.1", port=node.getsockname()[1], channels_per_element=2,
                        start_channel=10, priority=150)
    sender.open()
    try:
        sender.send(0, LEVELS, {})
        sender.send(1, LEVELS, {})
        first, second = receive(node, 2)
    finally:
        sender.close()
    assert (first["universe"], first["priority"], first["source"], first["terminated"]) == (7, 150, "Sugarglass", False)
    assert second["sequence"] == (first["sequence"] + 1) % 256 and len(first["cid"]) == 16
    slots = first["slots"]
    assert len(slots) == 512 and slots[:9] == [0] * 9 and slots[10 + 96 - 1 :] == [0] * (512 - 105)
    wide = [slots[9 + 2 * e] << 8 | slots[10 + 2 * e] for e in range(48)]
    assert wide == [int(v) * 65535 // 3000 for v in LEVELS] and wide[-1] == 2850 * 65535 // 3000


def test_8_bit_levels_and_the_safety_limits_through_outputs(node):
    sender = make_output(SacnOutput(kind="sacn", host="127.0.0.1", port=node.getsockname()[1]), None)
    limit = Limiter(SafetyConfig(max_power_w=19.0, element_power_w=1.0), CanvasConfig(), 1.0)
    with Outputs([sender], limit) as outputs:
        outputs.send(0, np.full(48, 3000, np.uint16), {})
    limited, off, *terminated = receive(node, 5)
    assert sum(limited["slots"]) / 255 <= 19.0 and max(limited["slots"][:48]) < 255
    assert off["slots"] == [0] * 512 and not off["terminated"], "every element off on the way out"
    assert [p["terminated"] for p in terminated] == [True, True, True], "then the stream is ended, as E1.31 asks"


def test_heartbeat_repeats_the_last_levels_while_a_tick_lasts(node):
    sender = SacnSender(host="127.0.0.1", port=node.getsockname()[1], heartbeat_ms=100)
    with Outputs([sender]) as outputs:
        outputs.send(0, LEVELS, {})
        end = time.monotonic() + 0.55
        while time.monotonic() < end:  # what the live loop does while it waits for the next tick
            time.sleep(0.01)
            outputs.heartbeat()
    node.settimeout(0.5)
    packets = []
    while sum(p["terminated"] for p in packets) < 3:
        packets.append(parse(node.recv(2048)))
    ticks = packets[:-4]  # then the off packet and three stream ends
    assert 4 <= len(ticks) - 1 <= 5 and sender.heartbeat_seconds == 0.1
    assert all(p["slots"][:48] == [int(v) * 255 // 3000 for v in LEVELS] for p in ticks)
    assert [p["sequence"] for p in packets] == list(range(len(packets)))


def test_a_failed_send_is_logged_and_counted_not_raised(caplog):
    sender = SacnSender(host="255.255.255.255")  # broadcast without SO_BROADCAST: refused by the kernel
    sender.open()
    with caplog.at_level(logging.WARNING, logger="sugarglass.outputs"):
        for tick in range(3):
            sender.send(tick, LEVELS, {})
    sender.close()
    assert sender.failures == 3
    assert len([r for r in caplog.records if "not sent at tick 0" in r.message]) == 1, "once a minute, not every tick"


def test_clear_errors_for_a_bad_host_and_a_grid_that_does_not_fit():
    with pytest.raises(SugarglassError, match="host 'no-such-host.invalid' does not resolve"):
        SacnSender(host="no-such-host.invalid").open()
    sender = SacnSender(host="127.0.0.1", channels_per_element=2, start_channel=450)
    sender.open()
    with pytest.raises(ValueError, match="48 elements x 2 channel"):
        sender.send(0, LEVELS, {})
    sender.close()


def test_multicast_is_the_universes_group_by_default():
    sender = SacnSender(universe=258)
    sender.open()
    assert sender._address[0] == "239.255.1.2"
    sender.close()


@pytest.mark.parametrize(("canvas", "output", "explains"), [
    ({"signed": True}, {}, "cannot drive elements both ways"),
    ({}, {"channels_per_element": 2, "start_channel": 420}, "past the universe's 512"),
])
def test_a_work_whose_grid_a_universe_cannot_drive_is_refused_when_read(canvas, output, explains):
    from pathlib import Path

    from sugarglass.errors import WorkFileError
    from sugarglass.work import Work, read_work_file, validate_work

    demo = Path(__file__).resolve().parents[1] / "works" / "demo.toml"
    raw = read_work_file(demo)
    raw["canvas"] = raw["canvas"] | canvas
    raw["outputs"] = [{"kind": "sacn", "host": "127.0.0.1", **output}]
    with pytest.raises(WorkFileError, match=explains):
        validate_work(Work, raw, demo)
