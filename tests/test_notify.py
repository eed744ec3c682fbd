"""The tick loop under a service manager: READY, a WATCHDOG heartbeat per tick and between long
ticks, STATUS, STOPPING — sent to a real Unix datagram socket standing in for systemd's."""

from __future__ import annotations

import os
import socket
import subprocess
import sys


from support import REPO, small_demo_work
from sugarglass.live.notify import Notifier


def test_the_run_says_ready_then_beats_every_tick_and_while_it_waits_then_stopping(tmp_path):
    work = small_demo_work(tmp_path, {"tick_seconds": 0.4, "checkpoint_every": 100})
    manager = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    manager.bind(str(tmp_path / "notify.sock"))
    manager.settimeout(120)
    environment = {**os.environ, "NOTIFY_SOCKET": str(tmp_path / "notify.sock"), "WATCHDOG_USEC": "200000"}
    process = subprocess.Popen([sys.executable, "-m", "sugarglass", "live", str(work), "--no-server", "--max-ticks", "6",
                                "--out", str(tmp_path / "out")], cwd=tmp_path, env=environment,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    messages: list[dict[str, str]] = []
    try:
        while not messages or "STOPPING" not in messages[-1]:
            datagram = manager.recv(4096).decode()
            messages.append(dict(line.split("=", 1) for line in datagram.split("\n")))
    finally:
        output = process.communicate(timeout=120)[0].decode()
        manager.close()
    assert process.returncode == 0, output
    assert messages[0]["READY"] == "1" and messages[0]["STATUS"] == "ticking from tick 0"
    assert all("READY" not in m for m in messages[1:])
    ticks = [m["STATUS"] for m in messages if "WATCHDOG" in m and "STATUS" in m]
    assert ticks == [f"tick {n}" for n in range(1, 7)]
    beats = sum("WATCHDOG" in m for m in messages)
    # 0.4 s ticks under a 0.2 s watchdog (a beat due every 0.1 s): beats between the ticks too
    assert beats >= 6 + 5 * 2, messages
    assert messages[-1] == {"STOPPING": "1", "STATUS": "stopping at tick 6"}


def test_without_a_manager_nothing_is_sent_and_an_abstract_socket_is_understood(tmp_path):
    quiet = Notifier({})
    assert not quiet.enabled and quiet.interval is None
    quiet.alive("tick 1")  # nothing to send to, nothing raised
    abstract = Notifier({"NOTIFY_SOCKET": "@sugarglass-test", "WATCHDOG_USEC": "3000000", "WATCHDOG_PID": str(os.getpid())})
    assert abstract.address == b"\0sugarglass-test" and abstract.interval == 1.5
    assert Notifier({"NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "3000000", "WATCHDOG_PID": "1"}).interval is None


def test_a_manager_that_went_away_does_not_stop_the_run(tmp_path, caplog):
    gone = Notifier({"NOTIFY_SOCKET": str(tmp_path / "nobody.sock")})
    gone.ready("x")
    gone.alive("y")
    assert gone.failures == 2
    assert sum("notify socket" in r.message for r in caplog.records) == 1


def test_the_unit_in_the_docs_runs_the_live_command_under_a_watchdog():
    unit = (REPO / "docs" / "systemd" / "sugarglass-live.service").read_text(encoding="utf-8")
    settings = dict(line.split("=", 1) for line in unit.splitlines() if "=" in line and not line.startswith("#"))
    assert settings["Type"] == "notify" and int(settings["WatchdogSec"]) > 0 and settings["Restart"] == "always"
    assert " live " in settings["ExecStart"] and settings["KillSignal"] == "SIGTERM"
