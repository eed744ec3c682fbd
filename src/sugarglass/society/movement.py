"""Rule M with harvest, metabolism and starvation: the sequential heart of a tick.

Agents act one at a time in the order given, each seeing the moves of those before it, as the
book says; that is why this kernel is not parallel. Codes for the options come from
`engine.py` as small integers so one compiled kernel serves every preset.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from sugarglass.society.jit import kernel
from sugarglass.society.rng import random_below
from sugarglass.society.space import (
    EMPTY,
    cell_at,
    clear_of_edges,
    link,
    prefetch_agent,
    prefetch_sight,
    rows_in_sight,
    unlink,
)

GOAL_WELFARE, GOAL_MOST_SUGAR = 0, 1
HARVEST_ALL, HARVEST_SUGAR_ALL_SPICE_ONE = 0, 1
METABOLISM_SUBTRACT, METABOLISM_FRACTION = 0, 1
STARVE_SUGAR_OR_SPICE, STARVE_SUGAR_EXACTLY_ZERO = 0, 1

# How many turns ahead the movement kernel asks for an agent's cells (tuned on 1M agents).
PREFETCH_AHEAD = 4
# Below this many cells the world sits in cache and prefetching only costs instructions.
PREFETCH_CELLS = 1 << 18
# Welfares this close (relative) count as equal, as Mesa's math.isclose does.
WELFARE_TOLERANCE = 1e-9


@njit(cache=True, inline="always")
def small_power(base, exponent):
    """base ** exponent for 0 <= exponent < 8 (every metabolism of the presets) without a loop
    or a branch: the factors base, base^2, base^4 a bit selects, multiplied in `ipow`'s order,
    so the result is `ipow`'s to the last bit and a loop over cells runs unbranched."""
    square = base * base
    fourth = square * square
    return ((base if exponent & 1 else 1.0) * (square if exponent & 2 else 1.0)
            * (fourth if exponent & 4 else 1.0))


@njit(cache=True, inline="always")
def ipow(base, exponent):
    """base ** exponent for a non-negative integer exponent, by squaring."""
    if exponent < 8:
        return small_power(base, exponent)
    result = 1.0
    while exponent > 0:
        if exponent & 1:
            result *= base
        base *= base
        exponent >>= 1
    return result


@njit(cache=True, inline="always")
def powered_welfare(sugar, spice, m_sugar, m_spice):
    """Cobb-Douglas welfare raised to the power mT = m1 + m2.

    W = s^(m1/mT) p^(m2/mT) and W^mT = s^m1 p^m2 rank cells and trades identically (x -> x^mT
    is increasing for x >= 0), and the second needs no `pow`: a few multiplications.
    """
    return ipow(sugar, m_sugar) * ipow(spice, m_spice)


@njit(cache=True, inline="always")
def goal_value(goal, s, p, m1, m2, found_sugar, found_spice):
    """How good a cell is: the welfare the agent would have there, or just its sugar."""
    if goal == GOAL_WELFARE:
        return powered_welfare(s + found_sugar, p + found_spice, m1, m2)
    return found_sugar


@njit(cache=True, inline="always")
def choose_cell(agent, rng, width, height, torus, look_dx, look_dy, look_dist, look_offset,
                look_upto, include_own_cell, goal, cell, sugar, spice, m_sugar, m_spice,
                vision, head, cell_sugar, cell_spice, values):
    """The cell `agent` moves to: best goal value, then nearest, then at random.

    Only empty cells count (its own cell too when `include_own_cell`). With no candidate at
    all the agent stays where it is (Mesa's example crashes there; the book is silent).
    Two passes: the value of every cell in sight into the scratch `values` (no branches, no
    carried state: the CPU overlaps the cells), then the choice in the look table's order,
    which fixes the random draws for ties. The second pass skips a cell only when it is below
    the best so far by more than twice the tolerance, so it could neither win nor tie: the
    choice and the draws are those of one pass weighing every cell in turn.
    """
    here = cell[agent]
    hx, hy = here % width, here // width
    s, p = sugar[agent], spice[agent]
    m1, m2 = m_sugar[agent], m_spice[agent]
    tolerance = WELFARE_TOLERANCE * (m1 + m2)
    reach = vision[agent]
    rows = rows_in_sight(reach, look_upto)
    inside = clear_of_edges(hx, hy, reach, width, height)
    if inside and goal == GOAL_WELFARE and m1 < 8 and m2 < 8:  # the common case, unbranched
        for k in range(rows):
            target = here + look_offset[k]
            value = small_power(s + cell_sugar[target], m1) * small_power(
                p + cell_spice[target], m2)
            values[k] = value if head[target] == EMPTY else -np.inf
    elif inside:
        for k in range(rows):
            target = here + look_offset[k]
            value = goal_value(goal, s, p, m1, m2, cell_sugar[target], cell_spice[target])
            values[k] = value if head[target] == EMPTY else -np.inf
    else:
        for k in range(rows):
            target = cell_at(hx, hy, look_dx[k], look_dy[k], width, height, torus)
            values[k] = -np.inf
            if target >= 0 and head[target] == EMPTY:
                values[k] = goal_value(goal, s, p, m1, m2, cell_sugar[target],
                                       cell_spice[target])
    # values are >= 0 unless an agent lives in debt (possible only under odd options); then
    # nothing is skipped but the taken cells
    skipping = goal != GOAL_WELFARE or (s >= 0.0 and p >= 0.0)
    floor = -np.finfo(np.float64).max
    best_cell = here
    best_value = 0.0
    best_dist = 0
    ties = 0
    for k in range(-1 if include_own_cell else 0, rows):
        if k < 0:
            target = here
            dist = 0
            value = goal_value(goal, s, p, m1, m2, cell_sugar[here], cell_spice[here])
        else:
            value = values[k]
            if value < floor:
                continue
            target = here + look_offset[k] if inside else cell_at(
                hx, hy, look_dx[k], look_dy[k], width, height, torus)
            dist = look_dist[k]
        if goal == GOAL_WELFARE:
            close = abs(value - best_value) <= tolerance * max(abs(value), abs(best_value))
        else:
            close = value == best_value
        if ties == 0 or (value > best_value and not close):
            best_cell, best_value, best_dist, ties = target, value, dist, 1
        elif close:
            best_value = max(best_value, value)
            if dist < best_dist:
                best_cell, best_dist, ties = target, dist, 1
            elif dist == best_dist:
                ties += 1
                if random_below(rng, ties) == 0:
                    best_cell = target
        if skipping:
            floor = best_value * (1.0 - 2.0 * tolerance)
    return best_cell


@njit(cache=True, inline="always")
def settle(agent, target, harvest, metabolism_rule, fraction, starvation,
           cell, sugar, spice, m_sugar, m_spice, alive, head, next_in_cell,
           cell_sugar, cell_spice):
    """Move `agent` to `target`, harvest, pay metabolism; return True if it starved."""
    here = cell[agent]
    if target != here:
        unlink(agent, here, head, next_in_cell)
        link(agent, target, head, next_in_cell)
        cell[agent] = target
    found_sugar = cell_sugar[target]
    cell_sugar[target] = 0.0
    if harvest == HARVEST_ALL:
        found_spice = cell_spice[target]
        cell_spice[target] = 0.0
    else:
        found_spice = min(cell_spice[target], 1.0)
        cell_spice[target] -= found_spice
    if metabolism_rule == METABOLISM_SUBTRACT:
        sugar[agent] += found_sugar - m_sugar[agent]
        spice[agent] += found_spice - m_spice[agent]
    else:  # 2019: sugar + found - sugar * metabolism, the stock before the harvest
        sugar[agent] = sugar[agent] + found_sugar - sugar[agent] * fraction
        spice[agent] += found_spice
    if starvation == STARVE_SUGAR_OR_SPICE:
        starved = sugar[agent] <= 0.0 or spice[agent] <= 0.0
    else:
        starved = sugar[agent] == 0.0
    if starved:
        alive[agent] = False
        unlink(agent, target, head, next_in_cell)
    return starved


@kernel
def move_in_turn(order, rng, width, height, torus, look_dx, look_dy, look_dist, look_offset,
                 look_upto, include_own_cell, goal, harvest, metabolism_rule, fraction,
                 starvation, cell, sugar, spice, m_sugar, m_spice, vision, alive, head,
                 next_in_cell, cell_sugar, cell_spice, values):
    """The book's M: each agent in `order` chooses, moves, eats and may die before the next
    looks (`values`: scratch as long as the look table). Returns the number that starved."""
    starved = 0
    diamond = look_dx.shape[0] > 4 * (look_upto.shape[0] - 1)
    prefetching = head.shape[0] >= PREFETCH_CELLS
    count = order.shape[0]
    for k in range(count):
        agent = order[k]
        # two-stage prefetch: fields of the agent PREFETCH_AHEAD * 2 turns on, and the cells
        # of the one PREFETCH_AHEAD turns on (whose fields were asked for earlier)
        if prefetching and k + 2 * PREFETCH_AHEAD < count:
            prefetch_agent(order[k + 2 * PREFETCH_AHEAD], cell, sugar, spice, m_sugar,
                           m_spice, vision)
        if prefetching and k + PREFETCH_AHEAD < count:
            ahead = order[k + PREFETCH_AHEAD]
            prefetch_sight(cell[ahead], vision[ahead], diamond, width, head, cell_sugar,
                           cell_spice)
        target = choose_cell(agent, rng, width, height, torus, look_dx, look_dy, look_dist,
                             look_offset, look_upto, include_own_cell, goal, cell, sugar,
                             spice, m_sugar, m_spice, vision, head, cell_sugar, cell_spice,
                             values)
        starved += settle(agent, target, harvest, metabolism_rule, fraction, starvation, cell,
                          sugar, spice, m_sugar, m_spice, alive, head, next_in_cell,
                          cell_sugar, cell_spice)
    return starved


@kernel
def plan_moves(order, rng, width, height, torus, look_dx, look_dy, look_dist, look_offset,
               look_upto, include_own_cell, goal, cell, sugar, spice, m_sugar, m_spice, vision,
               head, cell_sugar, cell_spice, values, plans):
    """The 2019 software's 'think': every agent plans against the same unchanged world, so two
    may plan the same cell and will share it."""
    for agent in order:
        plans[agent] = choose_cell(agent, rng, width, height, torus, look_dx, look_dy,
                                   look_dist, look_offset, look_upto, include_own_cell, goal,
                                   cell, sugar, spice, m_sugar, m_spice, vision, head,
                                   cell_sugar, cell_spice, values)


@kernel
def carry_out_plans(order, plans, harvest, metabolism_rule, fraction, starvation,
                    cell, sugar, spice, m_sugar, m_spice, alive, head, next_in_cell,
                    cell_sugar, cell_spice):
    """The 2019 software's 'update': move to the planned cell, eat, pay; returns starved."""
    starved = 0
    for agent in order:
        starved += settle(agent, plans[agent], harvest, metabolism_rule, fraction, starvation,
                          cell, sugar, spice, m_sugar, m_spice, alive, head, next_in_cell,
                          cell_sugar, cell_spice)
    return starved
