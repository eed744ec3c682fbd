"""Readouts: the society's state as one drive level per element of the grid behind the painting.

A level is an integer 0..3000 (the 2019 hardware's range); 0 is "off". Every readout reduces
the state to 48 numbers (for the default 6 x 8 grid), scales them min-max to 0..3000 and sets
those under the threshold to 0, as the 2019 software did "to give the Peltier elements a break".
"""

from __future__ import annotations

from typing import Literal, Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

FULL = 3000


class ReadoutConfig(BaseModel):
    """The ``[readout]`` table."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["tracked-agents", "resource-blocks", "density-blocks"] = "tracked-agents"
    columns: int = Field(default=6, ge=1, le=64)
    rows: int = Field(default=8, ge=1, le=64)
    threshold: int = Field(default=1500, ge=0, le=FULL)
    smoothing: float = Field(default=0.0, ge=0.0, lt=1.0, description="weight of the previous tick's level")

    @property
    def elements(self) -> int:
        return self.columns * self.rows

    @model_validator(mode="after")
    def _fits(self) -> ReadoutConfig:
        if self.elements > 4096:
            raise ValueError("columns * rows must be at most 4096 elements")
        return self


class SocietyView(Protocol):
    """What a readout reads from the society (arrays only)."""

    ids: np.ndarray
    alive: np.ndarray
    sugar: np.ndarray
    width: int
    height: int

    @property
    def x(self) -> np.ndarray: ...

    @property
    def y(self) -> np.ndarray: ...

    def sugar_grid(self) -> np.ndarray: ...


def scale_levels(values: np.ndarray, threshold: int) -> np.ndarray:
    """Min-max scale to 0..3000 over the elements, zero those under the threshold. When all
    values are equal there is no contrast to show, and every element is off."""
    values = np.nan_to_num(np.asarray(values, dtype=np.float64), nan=-np.inf)
    finite = np.isfinite(values)
    levels = np.zeros(len(values), dtype=np.float64)
    if finite.sum() >= 2:
        low, high = values[finite].min(), values[finite].max()
        if high > low:
            levels[finite] = (values[finite] - low) / (high - low) * FULL
    levels = np.floor(levels)
    levels[levels < threshold] = 0
    return levels


def block_means(grid: np.ndarray, rows: int, columns: int) -> np.ndarray:
    """Mean of a [height, width] field over rows x columns blocks, row-major (north-west
    first). Block edges fall on the nearest cells; dividing each sum by its block's size keeps
    the larger blocks of an uneven split from always reading hotter."""
    height, width = grid.shape
    if height < rows or width < columns:
        raise ValueError(f"a {height} x {width} landscape cannot be split into {rows} x {columns} blocks")
    row_edges = np.linspace(0, height, rows + 1).round().astype(np.int64)[:-1]
    column_edges = np.linspace(0, width, columns + 1).round().astype(np.int64)[:-1]
    by_rows = np.add.reduceat(np.asarray(grid, dtype=np.float64), row_edges, axis=0)
    sums = np.add.reduceat(by_rows, column_edges, axis=1)
    sizes = np.outer(np.diff(row_edges, append=height), np.diff(column_edges, append=width))
    return (sums / sizes).ravel()


def agent_density(x: np.ndarray, y: np.ndarray, width: int, height: int, rows: int, columns: int) -> np.ndarray:
    """Agents per cell over the same blocks as ``block_means``."""
    grid = np.zeros((height, width), dtype=np.float64)
    np.add.at(grid, (y, x), 1.0)
    return block_means(grid, rows, columns)


def _find(sorted_ids: np.ndarray, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each wanted id sits in `sorted_ids`, and whether it is there at all."""
    slot = np.searchsorted(sorted_ids, wanted)
    if sorted_ids.size == 0:
        return slot, np.zeros(len(wanted), dtype=np.bool_)
    found = sorted_ids[np.minimum(slot, sorted_ids.size - 1)] == wanted
    return slot, found & (slot < sorted_ids.size)


class Readout:
    """Turns successive society states into levels, keeping what must persist between ticks:
    the tracked agents and the previous levels (for smoothing).

    Tracked agents: element k starts with agent id k (the 2019 readout's agents 0..47). When
    the agent driving an element is not alive, the element is handed on to the living agent
    with the lowest id that drives no element yet; elements are handed on in order, so two
    left in one tick take the two lowest such ids. Why this rule: it needs nothing from the
    engine but ids, it is the same under every preset, and it is deterministic. Under `book`
    and `mesa-g1mt` nobody is born, so a dead agent's element goes to a survivor; under
    `book-replacement` newborns take new, higher ids, so it goes to the earliest-born living
    agent not yet shown; under `conversions-2019` a newborn takes the dead agent's id within
    the same tick, so agents 0..47 drive the elements for the whole run, as in 2019. An
    element with no successor (fewer agents alive than elements) is dark until one is free;
    when the whole population has died every element is dark, which is what the society is.
    """

    def __init__(self, config: ReadoutConfig):
        self.config = config
        self.tracked = np.arange(config.elements, dtype=np.int64)
        self.previous: np.ndarray | None = None

    def __call__(self, society: SocietyView) -> np.ndarray:
        c = self.config
        if c.kind == "tracked-agents":
            values = self._tracked_wealth(society)
        elif c.kind == "resource-blocks":
            values = block_means(society.sugar_grid(), c.rows, c.columns)
        else:
            alive = society.alive
            values = agent_density(society.x[alive], society.y[alive], society.width, society.height, c.rows, c.columns)
        levels = scale_levels(values, c.threshold)
        if c.smoothing and self.previous is not None:
            levels = np.floor(c.smoothing * self.previous + (1.0 - c.smoothing) * levels)
        self.previous = levels
        return levels.astype(np.uint16)

    def _tracked_wealth(self, society: SocietyView) -> np.ndarray:
        """Sugar of each element's agent (NaN where it has none alive), handing on the elements
        of the dead first. Arrays throughout: a sort of the living ids a tick, no Python loop
        over agents, so a large society costs milliseconds, not seconds."""
        live = np.flatnonzero(society.alive)
        ids = society.ids[live]
        order = np.argsort(ids, kind="stable")
        ids = ids[order]
        slot, found = _find(ids, self.tracked)
        missing = np.flatnonzero(~found)
        if missing.size:
            free = ids[~np.isin(ids, self.tracked)][: missing.size]
            self.tracked[missing[: free.size]] = free
            slot, found = _find(ids, self.tracked)
        values = np.full(len(self.tracked), np.nan)
        values[found] = society.sugar[live[order[slot[found]]]]
        return values

    def state(self) -> dict[str, np.ndarray]:
        return {"tracked": self.tracked.copy(), "previous": np.array([]) if self.previous is None else self.previous.copy()}

    def restore(self, state: dict[str, np.ndarray]) -> None:
        self.tracked = np.asarray(state["tracked"], dtype=np.int64).copy()
        previous = np.asarray(state["previous"], dtype=np.float64)
        self.previous = previous.copy() if previous.size else None
