"""The signal: stored feelings folded into one set of values per tick.

This is all the society will ever see of the words: per tick the mean compound, compnorm,
pos, neg and neu, and how many posts went into it. Grouping is by time window, or by a fixed
count of posts in order (the 2019 work read one row per tick).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import SugarglassError
from .store import FEELING_FIELDS, Feelings
from .work import SignalConfig

NEUTRAL = {"compound": 0.0, "compnorm": 0.5, "pos": 0.0, "neg": 0.0, "neu": 1.0}


@dataclass(frozen=True, slots=True)
class Signal:
    """Per-tick arrays. ``start`` is the window's start in Unix seconds (NaN in count mode)."""

    start: np.ndarray
    count: np.ndarray
    compound: np.ndarray
    compnorm: np.ndarray
    pos: np.ndarray
    neg: np.ndarray
    neu: np.ndarray

    def __len__(self) -> int:
        return len(self.count)

    def fields(self) -> dict[str, np.ndarray]:
        """Every value a coupling may read, by name."""
        return {name: getattr(self, name) for name in (*FEELING_FIELDS, "count")}


def build_signal(feelings: Feelings, config: SignalConfig) -> Signal:
    """Group feelings into ticks as the work's ``[signal]`` says."""
    if len(feelings) == 0:
        raise SugarglassError("no feelings are stored for this work yet: run `sugarglass ingest WORK` first")
    if config.posts_per_tick is not None:
        group = np.arange(len(feelings)) // config.posts_per_tick
        starts = np.full(int(group[-1]) + 1, np.nan)
    else:
        untimed = np.isnan(feelings.created_at)
        if untimed.any():
            names = sorted(set(feelings.source[untimed]))
            raise SugarglassError(
                f"signal: source(s) {', '.join(names)} have no times, so they cannot be grouped by "
                "window; use posts_per_tick, or leave them out with signal.sources"
            )
        width = config.window_length.total_seconds()
        origin = np.floor(feelings.created_at[0] / width) * width
        group = ((feelings.created_at - origin) // width).astype(np.int64)
        starts = origin + width * np.arange(int(group[-1]) + 1)
    ticks = len(starts)
    count = np.bincount(group, minlength=ticks)
    means = {}
    empty = count == 0
    for name in FEELING_FIELDS:
        sums = np.bincount(group, weights=getattr(feelings, name), minlength=ticks)
        with np.errstate(invalid="ignore", divide="ignore"):
            means[name] = sums / count
        if empty.any():
            means[name] = _fill(means[name], empty, config.fill, NEUTRAL[name])
    return Signal(start=starts, count=count, **means)


def neutral_signal() -> Signal:
    """One tick of no feeling at all: what a live run follows when nothing is stored (yet, or
    any more after a withdrawal), until words come."""
    return Signal(start=np.array([np.nan]), count=np.zeros(1, dtype=np.int64),
                  **{name: np.array([NEUTRAL[name]]) for name in FEELING_FIELDS})


def _fill(values: np.ndarray, empty: np.ndarray, rule: str, neutral: float) -> np.ndarray:
    if rule == "neutral":
        return np.where(empty, neutral, values)
    last_full = np.maximum.accumulate(np.where(empty, 0, np.arange(len(values))))
    return values[last_full]


def summarise(signal: Signal) -> dict[str, float]:
    """A few numbers that say what the signal is like."""
    weights = signal.count
    total = int(weights.sum())
    mean = float(np.average(signal.compound, weights=weights)) if total else float("nan")
    return {
        "ticks": len(signal),
        "posts": total,
        "empty_ticks": int((weights == 0).sum()),
        "mean_compound": mean,
        "min_tick_compound": float(signal.compound.min()),
        "max_tick_compound": float(signal.compound.max()),
        "std_tick_compound": float(signal.compound.std()),
    }


def plot_signal(signal: Signal, path: Path, title: str) -> Path:
    """Mean compound per tick coloured by feeling, the negative share beneath, posts per tick
    as bars: the shape the society will be steered by."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import TwoSlopeNorm

    timed = not np.isnan(signal.start).any()
    x = signal.start.astype("datetime64[s]") if timed else np.arange(len(signal))
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 6), sharex=True, height_ratios=(3, 1), layout="constrained")
    colours = plt.get_cmap("coolwarm_r")(TwoSlopeNorm(0.0, -1.0, 1.0)(signal.compound))
    top.axhline(0.0, color="0.6", lw=0.8)
    top.plot(x, signal.compound, color="0.55", lw=0.8, zorder=1)
    top.scatter(x, signal.compound, c=colours, s=18, zorder=2, edgecolors="none")
    if len(signal) >= 7:
        trend = np.convolve(signal.compound, np.ones(7) / 7, mode="same")
        top.plot(x[3:-3], trend[3:-3], color="black", lw=2.2, label="7-tick mean")
    top.plot(x, signal.neg, color="#b2182b", lw=0.8, alpha=0.6, label="neg share")
    top.plot(x, signal.pos, color="#2166ac", lw=0.8, alpha=0.6, label="pos share")
    top.set_ylim(-1.05, 1.05)
    top.set_ylabel("mean compound")
    top.legend(loc="lower left", frameon=False, fontsize=8)
    top.set_title(title)
    bottom.bar(x, signal.count, width=(signal.start[1] - signal.start[0]) / 86400 * 0.9 if timed and len(signal) > 1 else 0.9, color="0.55")
    bottom.set_ylabel("posts")
    bottom.set_xlabel("window start (UTC)" if timed else "tick")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


class LiveSignal:
    """The signal of a perpetual run: a tick with fresh feelings reads them; a tick without
    reads the stored signal at a cursor that then moves on, cycling or holding its last value
    as the work says. The cursor is all the state there is, so a checkpoint keeps only it."""

    def __init__(self, base: Signal, rule: str, cursor: int = 0):
        if rule not in ("cycle", "hold"):
            raise SugarglassError(f"couplings.when_exhausted = {rule!r} cannot drive a perpetual run; use cycle or hold")
        self.base, self.rule, self.cursor = base, rule, cursor

    def next(self, fresh: dict[str, np.ndarray] | None = None) -> dict[str, float]:
        if fresh is not None and len(fresh["compound"]):
            values = {name: float(np.mean(fresh[name])) for name in FEELING_FIELDS}
            return values | {"count": float(len(fresh["compound"]))}
        length = len(self.base)
        at = self.cursor % length if self.rule == "cycle" else min(self.cursor, length - 1)
        self.cursor += 1
        return {name: float(column[at]) for name, column in self.base.fields().items()}
