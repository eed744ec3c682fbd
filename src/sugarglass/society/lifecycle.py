"""Births, ageing and replacement (rule R), and the landscape's growback (rule G).

A newborn and an agent of the first generation are made the same way, so the start of a run
and its replacements draw traits from one place.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from sugarglass.society.jit import kernel
from sugarglass.society.rng import random_below, random_between
from sugarglass.society.space import link, random_free_cell, unlink


@njit(cache=True, inline="always")
def give_birth(agent, at_cell, rng, endowment, metabolism, vision_range, age_range,
               sugar, spice, m_sugar, m_spice, vision, age, max_age, alive, cell,
               head, next_in_cell):
    """Make `agent` a newborn on `at_cell` with traits drawn from the inclusive ranges."""
    sugar[agent] = random_between(rng, endowment[0], endowment[1])
    spice[agent] = random_between(rng, endowment[0], endowment[1])
    m_sugar[agent] = random_between(rng, metabolism[0], metabolism[1])
    m_spice[agent] = random_between(rng, metabolism[0], metabolism[1])
    vision[agent] = random_between(rng, vision_range[0], vision_range[1])
    age[agent] = 0
    max_age[agent] = random_between(rng, age_range[0], age_range[1])
    alive[agent] = True
    cell[agent] = at_cell
    link(agent, at_cell, head, next_in_cell)


@njit(cache=True)
def populate(rng, distinct, endowment, metabolism, vision_range, age_range,
             sugar, spice, m_sugar, m_spice, vision, age, max_age, alive, cell,
             head, next_in_cell):
    """The first generation: each agent on a random empty cell, or (`distinct` false, Mesa's
    reading) on any cell drawn with replacement."""
    for agent in range(alive.shape[0]):
        if distinct:
            at_cell = random_free_cell(rng, head)
        else:
            at_cell = random_below(rng, head.shape[0])
        give_birth(agent, at_cell, rng, endowment, metabolism, vision_range, age_range,
                   sugar, spice, m_sugar, m_spice, vision, age, max_age, alive, cell,
                   head, next_in_cell)


@kernel
def age_and_replace(rng, replacement, keep_id, next_id, endowment, metabolism, vision_range,
                    age_range, sugar, spice, m_sugar, m_spice, vision, age, max_age, alive,
                    ids, cell, head, next_in_cell):
    """Everyone alive grows a tick older; with replacement on, those at their maximum age die
    and every empty slot (starved or old) gets a newborn on a random empty cell.

    Returns (died of age, born, next unused id).
    """
    old = 0
    born = 0
    for agent in range(alive.shape[0]):
        if not alive[agent]:
            continue
        age[agent] += 1
        if replacement and age[agent] >= max_age[agent]:
            alive[agent] = False
            unlink(agent, cell[agent], head, next_in_cell)
            old += 1
    if replacement:
        for agent in range(alive.shape[0]):
            if alive[agent]:
                continue
            at_cell = random_free_cell(rng, head)
            if at_cell < 0:
                break
            give_birth(agent, at_cell, rng, endowment, metabolism, vision_range, age_range,
                       sugar, spice, m_sugar, m_spice, vision, age, max_age, alive, cell,
                       head, next_in_cell)
            if not keep_id:
                ids[agent] = next_id
                next_id += 1
            born += 1
    return old, born, next_id


# Below this many cells, waking the worker threads costs more than the work.
PARALLEL_CELLS = 1 << 20


@kernel
def grow_back(stock, capacity, rate):
    """G_alpha: every cell gains `rate`, capped at its capacity. Cells are independent, so
    large worlds use every core without changing the result."""
    if stock.shape[0] >= PARALLEL_CELLS:
        _grow_back_parallel(stock, capacity, rate)
    else:
        for cell in range(stock.shape[0]):
            stock[cell] = min(stock[cell] + rate, capacity[cell])


@njit(cache=True, parallel=True)
def _grow_back_parallel(stock, capacity, rate):
    for cell in prange(stock.shape[0]):
        stock[cell] = min(stock[cell] + rate, capacity[cell])


@kernel
def grow_back_2019(rng, compound, cell_sugar, sugar_capacity):
    """The 2019 software's regrowth: with compound > 0, every cell whose sugar is 0 draws a new
    amount uniform in [0, ceil(9 * compound)), capped at its capacity; otherwise nothing grows."""
    if compound <= 0.0:
        return
    bound = int(math.ceil(9.0 * compound))
    for cell in range(cell_sugar.shape[0]):
        if cell_sugar[cell] == 0.0:
            cell_sugar[cell] = min(np.float32(random_below(rng, bound)), sugar_capacity[cell])


@njit(cache=True)
def fill_2019(rng, cell_sugar, cell_spice, sugar_capacity, spice_capacity):
    """The 2019 world's start: sugar uniform in [1, 6) and spice in [0, 3), integers."""
    for cell in range(cell_sugar.shape[0]):
        cell_sugar[cell] = min(np.float32(random_between(rng, 1, 5)), sugar_capacity[cell])
        cell_spice[cell] = min(np.float32(random_between(rng, 0, 2)), spice_capacity[cell])
