"""What a tick leaves behind, as numbers: population, wealth, its inequality, prices.

One numba pass over the agents gives the sums; wealth (sugar + spice) is sorted for the Gini.
Sums run over fixed blocks of agents, each block in parallel and the blocks then added in
order, so the figures are the same bit for bit whatever the number of threads. The scratch
those passes write into belongs to whoever measures (a `Metrics` keeps one for its whole run),
not to the society: the engine knows nothing of how it is measured.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numba import njit, prange

if TYPE_CHECKING:
    from sugarglass.society.engine import Society

# Agents a block of the metric sums: the unit of the fixed summation order.
BLOCK = 1 << 14

COLUMNS = (
    "tick", "population", "births", "deaths", "starved", "died_of_age",
    "sugar_total", "sugar_mean", "spice_total", "spice_mean", "gini",
    "trades", "trade_pairs", "price_geomean", "log_price_sd",
    "vision_mean", "sugar_metabolism_mean", "spice_metabolism_mean",
)
_in_order = itemgetter(*COLUMNS)


@njit(cache=True, inline="always")
def _sum_block(b, sums, alive, sugar, spice, vision, m_sugar, m_spice):
    sums[b, :] = 0.0
    for i in range(b * BLOCK, min((b + 1) * BLOCK, alive.shape[0])):
        if alive[i]:
            sums[b, 0] += 1.0
            sums[b, 1] += sugar[i]
            sums[b, 2] += spice[i]
            sums[b, 3] += vision[i]
            sums[b, 4] += m_sugar[i]
            sums[b, 5] += m_spice[i]


@njit(cache=True, inline="always")
def _add_blocks(sums, total):
    total[:] = 0.0
    for b in range(sums.shape[0]):
        total += sums[b]


@njit(cache=True, parallel=True)
def _block_sums_parallel(alive, sugar, spice, vision, m_sugar, m_spice, sums):
    for b in prange(sums.shape[0]):
        _sum_block(b, sums, alive, sugar, spice, vision, m_sugar, m_spice)


@njit(cache=True)
def _summarize(alive, sugar, spice, vision, m_sugar, m_spice, sums, total, wealth):
    """Count, sugar, spice, vision and metabolisms summed over the living into `total`, in
    fixed blocks of `BLOCK` agents (blocks in parallel for large societies, so the thread
    count does not change the figures); returns the Gini of their wealth. `sums` and `wealth`
    are the society's scratch, so measuring allocates nothing."""
    if alive.shape[0] > 4 * BLOCK:
        _block_sums_parallel(alive, sugar, spice, vision, m_sugar, m_spice, sums)
    else:
        for b in range(sums.shape[0]):
            _sum_block(b, sums, alive, sugar, spice, vision, m_sugar, m_spice)
    _add_blocks(sums, total)
    n = 0
    for i in range(alive.shape[0]):
        if alive[i]:
            wealth[n] = sugar[i] + spice[i]
            n += 1
    return gini(wealth[:n])


@njit(cache=True)
def gini(values):
    """Gini coefficient of `values`, which it sorts in place: 0 all equal, towards 1 one
    holds everything."""
    n = values.shape[0]
    if n == 0:
        return math.nan
    values.sort()
    total = 0.0
    weighted = 0.0
    for i in range(n):
        total += values[i]
        weighted += (2 * i - n + 1) * values[i]
    if total == 0.0:
        return 0.0
    return weighted / (n * total)


@dataclass(frozen=True)
class Scratch:
    """The arrays one measurement writes into, sized for a society's agent slots: reused from
    tick to tick, so measuring a run allocates nothing."""

    block_sums: np.ndarray
    totals: np.ndarray
    wealth: np.ndarray

    @classmethod
    def for_slots(cls, slots: int) -> Scratch:
        return cls(np.zeros(((slots + BLOCK - 1) // BLOCK, 6)), np.zeros(6), np.zeros(slots))

    @property
    def slots(self) -> int:
        return self.wealth.shape[0]


def measure(society: Society, scratch: Scratch | None = None) -> dict[str, float]:
    """One row of metrics for the society's current state and its last tick. Without
    `scratch` (sized for `len(society.alive)` slots) it allocates its own."""
    s = society
    if scratch is None or scratch.slots != s.alive.shape[0]:
        scratch = Scratch.for_slots(s.alive.shape[0])
    total = scratch.totals
    inequality = _summarize(s.alive, s.sugar, s.spice, s.vision, s.sugar_metabolism,
                            s.spice_metabolism, scratch.block_sums, total, scratch.wealth)
    count, sugar, spice, vision, m_sugar, m_spice = total.tolist()
    last = s.last
    n = max(count, 1.0)
    if last.prices > 0:
        mean_log = last.log_price_sum / last.prices
        variance = max(last.log_price_square_sum / last.prices - mean_log * mean_log, 0.0)
        price, spread = math.exp(mean_log), math.sqrt(variance)
    else:
        price, spread = math.nan, math.nan
    return {
        "tick": s.tick,
        "population": int(count),
        "births": last.born,
        "deaths": last.starved + last.died_of_age,
        "starved": last.starved,
        "died_of_age": last.died_of_age,
        "sugar_total": sugar,
        "sugar_mean": sugar / n,
        "spice_total": spice,
        "spice_mean": spice / n,
        "gini": inequality,
        "trades": last.exchanges,
        "trade_pairs": last.trade_pairs,
        "price_geomean": price,
        "log_price_sd": spread,
        "vision_mean": vision / n,
        "sugar_metabolism_mean": m_sugar / n,
        "spice_metabolism_mean": m_spice / n,
    }


class Metrics:
    """Rows of metrics, one a tick, kept as tuples in COLUMNS order (one C-level step to
    store, which matters when a tick itself takes tens of microseconds) and handed out as
    arrays. It keeps the measuring scratch for the society it records."""

    def __init__(self) -> None:
        self._rows: list[tuple[float, ...]] = []
        self._scratch: Scratch | None = None

    def record(self, society: Society) -> dict[str, float]:
        if self._scratch is None or self._scratch.slots != society.alive.shape[0]:
            self._scratch = Scratch.for_slots(society.alive.shape[0])
        row = measure(society, self._scratch)
        self._rows.append(_in_order(row))
        return row

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, name: str) -> np.ndarray:
        column = COLUMNS.index(name)
        return np.asarray([row[column] for row in self._rows])

    def as_arrays(self) -> dict[str, np.ndarray]:
        return {name: self[name] for name in COLUMNS}

    def to_csv(self, path: Path | str) -> Path:
        path = Path(path)
        columns = self.as_arrays()
        with path.open("w") as out:
            out.write(",".join(COLUMNS) + "\n")
            for k in range(len(self)):
                out.write(",".join(_format(columns[name][k]) for name in COLUMNS) + "\n")
        return path

    def to_parquet(self, path: Path | str) -> Path:
        import pyarrow as pa
        import pyarrow.parquet as pq

        path = Path(path)
        pq.write_table(pa.table(self.as_arrays()), path)
        return path


def _format(value: float) -> str:
    """Integers as integers, floats with full precision (repr), missing as empty."""
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return "" if math.isnan(value) else repr(float(value))
