"""The safety limits every hardware output obeys: power, on-time and rest, plate temperature."""

from __future__ import annotations

import json
import logging
import socket
from pathlib import Path

import numpy as np
import pytest
from pythonosc.osc_bundle import OscBundle

from sugarglass.canvas.config import CanvasConfig
from sugarglass.canvas.plate import Plate, element_powers
from sugarglass.errors import WorkFileError
from sugarglass.outputs import COUNTERS, LevelsFile, Limiter, OscSender, Outputs, SafetyConfig
from sugarglass.work import Work, load_work, read_work_file, validate_work

DEMO = Path(__file__).resolve().parents[1] / "works" / "demo.toml"
LAX = dict(max_power_w=1e6, max_on_seconds=1e9, max_plate_c=80.0)


def limiter(canvas: CanvasConfig | None = None, seconds_per_tick: float = 60.0, **safety) -> Limiter:
    return Limiter(SafetyConfig(**(LAX | safety)), canvas or CanvasConfig(), seconds_per_tick)


def test_power_budget_is_never_exceeded_and_the_picture_only_dims():
    rng = np.random.default_rng(3)
    limit = limiter(max_power_w=30.0, element_power_w=2.0)
    for _ in range(200):
        raw = rng.integers(0, 3001, 48).astype(np.uint16)
        out = limit(raw)
        assert (out.astype(float) / 3000 * 2.0).sum() <= 30.0
        assert np.all(out <= raw)
        if raw.sum() / 3000 * 2.0 <= 30.0:
            assert np.array_equal(out, raw)
        else:
            lit = raw > 300
            ratio = out[lit] / raw[lit]
            assert ratio.max() - ratio.min() < 0.01, "one factor for every element"
    assert limit.counters["safety_limited_power"] > 150 and limit.power_w <= 30.0


def test_on_time_is_cut_after_the_maximum_and_the_rest_is_enforced():
    limit = limiter(max_on_seconds=180.0, min_rest_seconds=120.0)  # 3 ticks on, then 2 off
    lit = [int(limit(np.full(48, 2000, np.uint16))[0] > 0) for _ in range(10)]
    assert lit == [1, 1, 1, 0, 0, 1, 1, 1, 0, 0]
    assert limit.counters["safety_limited_on_time"] == 4


def test_a_pause_shorter_than_the_rest_does_not_restart_the_clock():
    limit = limiter(max_on_seconds=180.0, min_rest_seconds=120.0)
    on, off = np.full(48, 2000, np.uint16), np.zeros(48, np.uint16)
    lit = [int(limit(levels)[0] > 0) for levels in (on, on, off, on, on, on, off, off, on)]
    assert lit == [1, 1, 0, 1, 0, 0, 0, 0, 1]


def test_a_tick_that_ran_late_counts_as_the_ticks_its_levels_were_held():
    clocks = {"late": [0.0], "on time": [0.0]}
    safety = SafetyConfig(**(LAX | {"max_on_seconds": 5.0, "min_rest_seconds": 2.0}))
    late, on_time = (Limiter(safety, CanvasConfig(), 1.0, clock=lambda c=c: c[0]) for c in clocks.values())
    on = np.full(48, 2000, np.uint16)
    late(on)
    on_time(on)
    clocks["late"][0], clocks["on time"][0] = 4.0, 1.0  # a slow feed held the levels four ticks
    assert late(on)[0] > 0 and late.on_run[0] == 5, "one tick sent plus three more held, then this one"
    assert on_time(on)[0] > 0 and on_time.on_run[0] == 2, "on time, it is the second tick"
    assert late.plate_c > on_time.plate_c, "the plate model has had the longer heat"
    clocks["late"][0] = 5.0
    assert late(on)[0] == 0, "the sixth second on is over max_on_seconds"


def test_seconds_become_ticks_with_the_tick_the_caller_says():
    live = limiter(seconds_per_tick=1.0, max_on_seconds=180.0, min_rest_seconds=120.0)
    assert (live.max_on_ticks, live.rest_ticks) == (180, 120)
    batch = limiter(seconds_per_tick=60.0, max_on_seconds=3600.0, min_rest_seconds=0.0)
    assert (batch.max_on_ticks, batch.rest_ticks) == (60, 1)
    with pytest.raises(ValueError, match="seconds_per_tick"):
        limiter(seconds_per_tick=0.0)


def test_plate_temperature_stays_under_the_limit_by_the_canvas_model():
    canvas = CanvasConfig(element_power_w=20.0)
    limit = limiter(canvas, max_plate_c=40.0)
    plate = Plate(canvas)
    temperature = plate.uniform(canvas.ambient_c)
    raw = np.full(48, 300, np.uint16)
    raw[20] = 3000
    for _ in range(30):
        out = limit(raw)
        temperature = plate.advance(temperature, element_powers(out.astype(float), canvas), 60.0)
        assert temperature.max() <= 40.0 + 1e-6, "an independent run of the plate agrees"
    rows, columns = np.divmod(np.arange(48), 6)
    far = np.maximum(abs(rows - 3), abs(columns - 2)) >= 2  # element 20 is row 3, column 2
    assert out[20] < 3000 and np.array_equal(out[far], raw[far]), "only the hot spot dims"
    assert temperature.max() > 39.5, "and only as far as it must"
    unlimited = plate.steady(element_powers(raw.astype(float), canvas)).max()
    assert unlimited > 45 and limit.counters["safety_limited_temperature"] >= 25


def test_an_insulated_plate_is_held_too():
    canvas = CanvasConfig(cooling_tau_s=None)
    limit = limiter(canvas, max_plate_c=30.0)
    for _ in range(200):
        out = limit(np.full(48, 3000, np.uint16))
    assert limit.plate_c <= 30.0 + 1e-6 and out.max() < 3000


def test_limits_only_move_levels_towards_off_also_when_signed():
    canvas = CanvasConfig(signed=True, element_power_w=8.0)
    limit = limiter(canvas, max_power_w=40.0, max_on_seconds=300.0, min_rest_seconds=120.0, max_plate_c=32.0)
    rng = np.random.default_rng(5)
    for _ in range(100):
        raw = rng.integers(0, 3001, 48)
        out = limit(raw.astype(np.uint16)).astype(int)
        assert np.all(np.abs(out - 1500) <= np.abs(raw - 1500))
        assert np.all((out - 1500) * (raw - 1500) >= 0), "never to the other side of off"
    assert all(limit.counters[name] > 0 for name in COUNTERS)
    assert limit.off_levels.tolist() == [1500] * 48


def test_the_defaults_leave_the_demo_nearly_untouched():
    work = load_work(DEMO)
    assert work.safety == SafetyConfig()
    limit = Limiter(work.safety, work.canvas, work.canvas.seconds_per_tick)
    assert limit.element_power_w == work.canvas.element_power_w
    assert np.array_equal(limit(np.full(48, 1500, np.uint16)), np.full(48, 1500)), "half the grid's power passes"
    assert limit(np.full(48, 3000, np.uint16)).sum() / 3000 * 1.9 <= 60.0, "the full grid does not"


def test_counters_reach_the_metrics_osc_and_the_levels_file(tmp_path):
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    peer.bind(("127.0.0.1", 0))
    peer.settimeout(5)
    record = LevelsFile(tmp_path / "levels.jsonl")
    limit = limiter(max_power_w=20.0, element_power_w=1.0)
    quiet, loud = np.full(48, 600, np.uint16), np.full(48, 3000, np.uint16)
    metrics: list[dict] = []
    with Outputs([OscSender("127.0.0.1", peer.getsockname()[1]), record], limit) as outputs:
        for tick, levels in enumerate([quiet, loud, loud]):
            metrics.append({"population": 100.0})
            outputs.send(tick, levels, metrics[-1])
    bundles = [{m.address: m.params for m in OscBundle(peer.recv(65536))} for _ in range(4)]
    peer.close()
    assert bundles[3]["/sugarglass/levels"] == [0.0] * 48 and bundles[3]["/sugarglass/tick"] == [2], "off on the way out"
    assert [m["safety_limited_power"] for m in metrics] == [0.0, 1.0, 2.0]
    assert metrics[2]["population"] == 100.0 and metrics[2]["safety_power_w"] <= 20.0
    assert bundles[2]["/sugarglass/metrics/safety_limited_power"] == [2.0]
    assert sum(bundles[2]["/sugarglass/levels"]) <= 20.0, "OSC gets the limited levels"
    lines = [json.loads(line) for line in (tmp_path / "levels.jsonl").read_text().splitlines()]
    assert [line["levels"] for line in lines] == [quiet.tolist(), loud.tolist(), loud.tolist()], "the society's own"
    assert "limited" not in lines[0] and sum(lines[1]["limited"]) / 3000 <= 20.0


def test_levels_the_limiter_refuses_send_every_element_off(caplog):
    sent: list[np.ndarray] = []

    class Hardware:
        name, hardware = "fake", True

        def open(self): ...

        def send(self, tick, levels, metrics):
            sent.append(levels)

        def off(self, levels):
            sent.append(-np.asarray(levels, dtype=int) - 1)

        def close(self, complete=True): ...

    bad = np.full(48, 100, np.int64)
    bad[7] = 4000
    with caplog.at_level(logging.ERROR, logger="sugarglass.outputs"), Outputs([Hardware()], limiter()) as outputs:
        outputs.send(0, bad, {})
        outputs.send(1, np.zeros(47), {})
    assert [s.tolist() for s in sent[:2]] == [[0] * 48, [0] * 48]
    assert sent[2].tolist() == [-1] * 48, "off once more on the way out"
    assert outputs.errors == {"safety": 2} and "levels[7] = 4000" in caplog.text


def test_limiting_is_logged_at_most_once_a_minute(caplog):
    now = [0.0]
    limit = Limiter(SafetyConfig(max_power_w=10.0, max_on_seconds=1e9), CanvasConfig(), 60.0, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="sugarglass.outputs"):
        for _ in range(100):
            limit(np.full(48, 3000, np.uint16))
            now[0] += 0.5
        now[0] += 60
        limit(np.full(48, 3000, np.uint16))
    lines = [r.message for r in caplog.records if r.message.startswith("safety:")]
    assert len(lines) == 2
    assert "1 for power" in lines[0] and "100 for power" in lines[1]


def test_limiter_state_survives_a_checkpoint():
    first = limiter(max_on_seconds=180.0, min_rest_seconds=120.0)
    for _ in range(3):
        first(np.full(48, 2000, np.uint16))
    second = limiter(max_on_seconds=180.0, min_rest_seconds=120.0)
    second.restore(first.state())
    assert second(np.full(48, 2000, np.uint16)).max() == 0 and second.counters == first.counters | {"safety_limited_on_time": 1}


@pytest.mark.parametrize(("table", "message"), [
    ({"max_power_w": -5}, "safety.max_power_w: max_power_w = -5 is too small: it must be more than 0"),
    ({"max_plate_c": 120}, "safety.max_plate_c: max_plate_c = 120 is too large: it must be at most 80"),
    ({"min_rest_seconds": "long"}, "safety.min_rest_seconds: min_rest_seconds = 'long' is not a number"),
    ({"max_watts": 10}, "safety.max_watts: is not a known key"),
])
def test_a_bad_safety_value_is_a_work_file_error_naming_the_key(table, message):
    raw = read_work_file(DEMO) | {"safety": table}
    with pytest.raises(WorkFileError) as caught:
        validate_work(Work, raw, DEMO)
    assert message in str(caught.value)


def test_a_paused_run_rests_the_hardware_and_the_limiter_counts_the_rest():
    sent: list[np.ndarray] = []

    class Hardware:
        name, hardware = "fake", True

        def open(self): ...

        def send(self, tick, levels, metrics):
            sent.append(levels.copy())

        def close(self, complete=True): ...

    limit = limiter(seconds_per_tick=1.0, max_on_seconds=3.0, min_rest_seconds=2.0)
    on = np.full(48, 2000, np.uint16)
    with Outputs([Hardware()], limit) as outputs:
        for tick in range(3):
            outputs.send(tick, on, {})
        outputs.rest(3)
        outputs.rest(3)  # two paused ticks: every element off, and that is their rest
        outputs.send(3, on, {})
    assert [int(levels[0]) for levels in sent] == [2000, 2000, 2000, 0, 0, 2000]
    assert limit.counters["safety_limited_on_time"] == 0, "the pause gave the elements their rest"
