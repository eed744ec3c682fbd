"""The signal: feelings grouped per tick, as the work file says."""

from __future__ import annotations

import numpy as np
import pytest

from sugarglass.errors import SugarglassError
from sugarglass.signal import build_signal, plot_signal, summarise
from sugarglass.store import Feelings
from sugarglass.work import SignalConfig

HOUR = 3600.0


def feelings(times, compounds, source="a") -> Feelings:
    c = np.asarray(compounds, dtype=float)
    n = len(c)
    neg = np.clip(-c, 0, 1)
    pos = np.clip(c, 0, 1)
    return Feelings(
        created_at=np.asarray(times, dtype=float), compound=c, compnorm=(c + 1) / 2,
        pos=pos, neg=neg, neu=1 - pos - neg, source=np.array([source] * n, dtype=object),
    )


def test_windows_average_and_hold_through_empty_ones():
    day0 = 1_700_000_000 // 86400 * 86400.0
    f = feelings([day0 + 1 * HOUR, day0 + 2 * HOUR, day0 + 13 * HOUR, day0 + 49 * HOUR], [0.5, -0.1, -0.8, 0.9])
    s = build_signal(f, SignalConfig(window="12h"))
    assert s.start[0] == day0 and np.allclose(np.diff(s.start), 12 * HOUR)
    assert list(s.count) == [2, 1, 0, 0, 1]
    assert np.allclose(s.compound, [0.2, -0.8, -0.8, -0.8, 0.9])
    assert np.allclose(s.compnorm, (s.compound + 1) / 2)
    neutral = build_signal(f, SignalConfig(window="12h", fill="neutral"))
    assert np.allclose(neutral.compound, [0.2, -0.8, 0.0, 0.0, 0.9])
    assert np.allclose(neutral.neu[2:4], 1.0)


def test_posts_per_tick_reads_rows_in_order():
    f = feelings([np.nan] * 5, [0.1, 0.3, -0.5, 0.5, 1.0])
    s = build_signal(f, SignalConfig(posts_per_tick=2))
    assert list(s.count) == [2, 2, 1]
    assert np.allclose(s.compound, [0.2, 0.0, 1.0])
    one = build_signal(f, SignalConfig(posts_per_tick=1))
    assert np.array_equal(one.compound, f.compound)


def test_window_needs_times():
    f = feelings([np.nan, np.nan], [0.1, 0.2], source="old-db")
    with pytest.raises(SugarglassError, match="old-db have no times"):
        build_signal(f, SignalConfig(window="1d"))


def test_empty_store_has_no_signal():
    with pytest.raises(SugarglassError, match="run `sugarglass ingest WORK` first"):
        build_signal(feelings([], []), SignalConfig(window="1d"))


def test_summary_and_plot(tmp_path):
    f = feelings(np.arange(40) * 6 * HOUR + 19_700 * 86400.0, np.sin(np.arange(40) / 5))
    s = build_signal(f, SignalConfig(window="1d"))
    summary = summarise(s)
    assert summary["ticks"] == 10 and summary["posts"] == 40
    path = plot_signal(s, tmp_path / "signal.png", "test")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
