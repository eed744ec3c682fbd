"""The society: agents as a structure of arrays on a lattice, stepped tick by tick.

`Society` holds the state and its scratch arrays and steps it with one kernel call a tick
(`tick.run_tick`: G, M, T, R in the book's order, or the 2019 software's order). It knows
nothing of text or feelings: whatever couples feelings to the world fills a `TickParams` for
each tick. Nor does it know how it is measured or saved: `metrics` and `checkpoint` read it
through its arrays and `state()`, and depend on it, never the other way round.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sugarglass.society import lifecycle
from sugarglass.society.config import Rules, SocietyConfig, check_fits
from sugarglass.society.landscape import Landscape, load_landscape
from sugarglass.society.rng import seed_state
from sugarglass.society.space import look_shortcuts, look_table, rebuild_occupancy
from sugarglass.society.tick import rule_codes, run_tick

# The agent arrays, in the order `state()` gives them (and a checkpoint stores them).
AGENT_ARRAYS = ("ids", "cell", "sugar", "spice", "sugar_metabolism", "spice_metabolism",
                "vision", "age", "max_age", "alive", "next_in_cell")
CELL_ARRAYS = ("cell_sugar", "cell_spice", "sugar_capacity", "spice_capacity", "head")


@dataclass(frozen=True)
class TickParams:
    """What may change from one tick to the next: the knobs a coupling turns.

    sugar_growback, spice_growback: alpha of rule G (units a tick, capped at capacity).
    max_age_min, max_age_max: the inclusive range newborns draw their maximum age from.
    compound, negative: one feeling row, read by the 2019 rules only (compound drives regrowth,
    negative shortens lifespans); the other rules ignore them.
    """

    sugar_growback: float = 1.0
    spice_growback: float = 1.0
    max_age_min: int = 60
    max_age_max: int = 100
    compound: float = 0.0
    negative: float = 0.0

    def newborn_age_range(self, lifespan_rule: str) -> tuple[int, int]:
        """The 2019 software shortened lifespans with the row's negative score:
        max_age = 150 - floor(75 * negative), here counted down from `max_age_max`."""
        high = self.max_age_max
        if lifespan_rule == "sentiment-2019":
            high -= math.floor(75.0 * self.negative)
        return self.max_age_min, max(self.max_age_min, high)


@dataclass(frozen=True)
class TickStats:
    """What happened during the last tick (the metrics read it)."""

    starved: int = 0
    died_of_age: int = 0
    born: int = 0
    exchanges: int = 0
    trade_pairs: int = 0
    log_price_sum: float = 0.0
    log_price_square_sum: float = 0.0
    prices: int = 0


class Society:
    """A Sugarscape world. Build it with `Society.from_config` (or `Society(rules, landscape,
    seed)`), advance it with `step`, read its state from the array attributes; `state()` and
    `from_state()` carry all of it across a checkpoint (`checkpoint.save_society`).

    Agent arrays (one slot per agent of the first generation; `alive` says which are in use):
    ids, cell (row-major cell index), sugar, spice, sugar_metabolism, spice_metabolism, vision,
    age, max_age, alive. Cell arrays, flat: cell_sugar, cell_spice, sugar_capacity,
    spice_capacity; `sugar_grid()` / `spice_grid()` give them as [height, width].
    """

    def __init__(self, rules: Rules, landscape: Landscape, seed: int):
        check_fits(rules, landscape.width * landscape.height)
        self.rules = rules
        self.width, self.height = landscape.width, landscape.height
        self.tick = 0
        self.rng = seed_state(seed)
        self.last = TickStats()
        n = rules.agents
        self.sugar_capacity = landscape.sugar_capacity.ravel().astype(np.float32)
        self.spice_capacity = landscape.spice_capacity.ravel().astype(np.float32)
        self.cell_sugar = self.sugar_capacity.copy()
        self.cell_spice = self.spice_capacity.copy()
        if rules.start_fill == "random-2019":
            lifecycle.fill_2019(self.rng, self.cell_sugar, self.cell_spice,
                                self.sugar_capacity, self.spice_capacity)
        self.head = np.full(self.width * self.height, -1, dtype=np.int32)
        self.next_in_cell = np.full(n, -1, dtype=np.int32)
        self.cell = np.zeros(n, dtype=np.int32)
        self.sugar = np.zeros(n)
        self.spice = np.zeros(n)
        self.sugar_metabolism = np.zeros(n, dtype=np.int32)
        self.spice_metabolism = np.zeros(n, dtype=np.int32)
        self.vision = np.zeros(n, dtype=np.int32)
        self.age = np.zeros(n, dtype=np.int32)
        self.max_age = np.zeros(n, dtype=np.int32)
        self.alive = np.zeros(n, dtype=np.bool_)
        self.ids = np.arange(n, dtype=np.int64)
        self.next_id = n
        lifecycle.populate(self.rng, rules.start_positions == "distinct", rules.endowment,
                           rules.metabolism, rules.vision, rules.max_age, self.sugar,
                           self.spice, self.sugar_metabolism, self.spice_metabolism,
                           self.vision, self.age, self.max_age, self.alive, self.cell,
                           self.head, self.next_in_cell)
        self._renumber_by_position()
        self._setup_tables()

    @classmethod
    def from_config(cls, config: SocietyConfig, seed: int, base_dir: Path | None = None
                    ) -> Society:
        """The society a work file's `[society]` table describes; files relative to base_dir."""
        landscape = load_landscape(config.landscape, config.preset, base_dir)
        return cls(config.rules, landscape, seed)

    def _setup_tables(self) -> None:
        """Derived, never saved: look tables, rule codes, the neutral parameters and the
        scratch arrays every tick reuses (a tick allocates nothing)."""
        r = self.rules
        n = r.agents
        self.look = look_table(r.look, r.vision[1], r.tie_distance == "euclidean")
        self._look_offset, self._look_upto = look_shortcuts(self.look[0], self.look[1],
                                                            self.look[2], self.width)
        self._codes = rule_codes(r, self.width, self.height)
        self._traits = np.array([r.endowment, r.metabolism, r.vision], dtype=np.int64)
        self._default_params = TickParams(sugar_growback=r.growback, spice_growback=r.growback,
                                          max_age_min=r.max_age[0], max_age_max=r.max_age[1])
        if r.trade_rule == "one-unit-2019":
            partner_cells = 1
        elif r.trade_partners == "adjacent":
            partner_cells = 4
        else:
            partner_cells = int(np.count_nonzero(self.look[2] <= r.vision[1]))
        self._pairs = np.zeros((n * partner_cells, 2), dtype=np.int64)
        self._order = np.zeros(n, dtype=np.int64)
        self._plans = np.zeros(n, dtype=np.int64)
        self._traded = np.zeros(n, dtype=np.bool_)
        self._values = np.zeros(self.look[0].shape[0])
        self._partner_cells = np.zeros(self.look[0].shape[0], dtype=np.int64)
        self._price_stats = np.zeros(3)
        self.trade_pairs = self._pairs[:0]

    def _renumber_by_position(self) -> None:
        """Store agents in the order of their cells, so neighbours sit near each other in memory
        (trade and the metrics then touch fewer cache lines). Ids stay with their agents."""
        order = np.argsort(self.cell, kind="stable")
        for name in AGENT_ARRAYS:
            setattr(self, name, np.ascontiguousarray(getattr(self, name)[order]))
        rebuild_occupancy(self.cell, self.alive, self.head, self.next_in_cell)

    def default_params(self) -> TickParams:
        """The constant parameters the rules imply: a neutral tick."""
        return self._default_params

    def step(self, params: TickParams | None = None) -> TickStats:
        """Advance one tick: growback, movement with harvest and metabolism, trade, ageing and
        replacement, all in one kernel call (`tick.run_tick`). Returns what happened (also
        kept as `self.last`)."""
        p = params or self._default_params
        age_low, age_high = p.newborn_age_range(self.rules.lifespan_rule)
        dx, dy, _, dist = self.look
        starved, old, born, self.next_id, exchanges, pairs = run_tick(
            self.rng, self._codes, self.rules.metabolic_fraction, p.sugar_growback,
            p.spice_growback, p.compound, age_low, age_high, self.next_id, self._traits,
            dx, dy, dist, self._look_offset, self._look_upto, self.cell, self.sugar,
            self.spice, self.sugar_metabolism, self.spice_metabolism, self.vision, self.age,
            self.max_age, self.alive, self.ids, self.head, self.next_in_cell, self.cell_sugar,
            self.cell_spice, self.sugar_capacity, self.spice_capacity, self._order,
            self._plans, self._traded, self._values, self._partner_cells, self._pairs,
            self._price_stats)
        self.trade_pairs = self._pairs[:pairs]
        self.tick += 1
        log_sum, log_square_sum, prices = self._price_stats.tolist()
        self.last = TickStats(starved, old, born, exchanges, pairs, log_sum, log_square_sum,
                              int(prices))
        return self.last

    # Views for readers -------------------------------------------------------------------

    @property
    def population(self) -> int:
        return int(np.count_nonzero(self.alive))

    @property
    def x(self) -> np.ndarray:
        """Column of each agent's cell (0 = west)."""
        return self.cell % self.width

    @property
    def y(self) -> np.ndarray:
        """Row of each agent's cell (0 = north)."""
        return self.cell // self.width

    def sugar_grid(self) -> np.ndarray:
        """Sugar on each cell as [height, width] (a view: do not write to it)."""
        return self.cell_sugar.reshape(self.height, self.width)

    def spice_grid(self) -> np.ndarray:
        """Spice on each cell as [height, width] (a view: do not write to it)."""
        return self.cell_spice.reshape(self.height, self.width)

    def sugar_by_id(self, ids: np.ndarray) -> np.ndarray:
        """Sugar of the living agents with these ids (NaN where none is alive), e.g. the 2019
        readout's agents 0..47."""
        out = np.full(len(ids), np.nan)
        live = np.flatnonzero(self.alive)
        position = {int(i): k for k, i in enumerate(self.ids[live])}
        for k, agent_id in enumerate(ids):
            slot = position.get(int(agent_id))
            if slot is not None:
                out[k] = self.sugar[live[slot]]
        return out

    # The whole state, for a checkpoint ----------------------------------------------------

    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """Everything needed to carry on exactly: the scalars (JSON-ready: rules, size, tick,
        next id, the last tick's stats) and the arrays (generator words, agents, cells), as
        copies. `from_state` turns them back into a society that steps on bit for bit."""
        scalars = {
            "rules": self.rules.model_dump(mode="json"),
            "width": self.width,
            "height": self.height,
            "tick": self.tick,
            "next_id": self.next_id,
            "last": asdict(self.last),
        }
        arrays = {"rng": self.rng.copy()}
        arrays |= {name: getattr(self, name).copy() for name in AGENT_ARRAYS + CELL_ARRAYS}
        return scalars, arrays

    @classmethod
    def from_state(cls, scalars: dict[str, Any], arrays: dict[str, np.ndarray]) -> Society:
        """The society `state()` described; the derived tables and scratch are rebuilt."""
        society = cls.__new__(cls)
        society.rules = Rules(**scalars["rules"])
        society.width, society.height = int(scalars["width"]), int(scalars["height"])
        society.tick, society.next_id = int(scalars["tick"]), int(scalars["next_id"])
        society.last = TickStats(**scalars["last"])
        society.rng = np.array(arrays["rng"], dtype=np.uint64)
        for name in AGENT_ARRAYS + CELL_ARRAYS:
            setattr(society, name, np.array(arrays[name]))
        society._setup_tables()
        return society
