"""One tick in one kernel: growback, movement, trade, ageing and replacement.

At 200 agents a tick is tens of microseconds of work, so a dozen calls from Python with 20-odd
arrays each, and the arrays they allocated, cost as much as the rules. `run_tick` is the one
call a tick makes; its scratch arrays (activation order, plans, cell values, partner cells,
pairs, price sums) belong to the Society and are reused. The rule options arrive as small
integers in `codes`, so one compiled kernel serves every preset.
"""

from __future__ import annotations

import numpy as np

from sugarglass.society import lifecycle, movement, trade
from sugarglass.society.config import Rules
from sugarglass.society.jit import kernel
from sugarglass.society.rng import shuffle

# Positions in `codes`.
(WIDTH, HEIGHT, TORUS, INCLUDE_OWN_CELL, GOAL, HARVEST, METABOLISM, STARVATION, SEQUENTIAL,
 TRADE, ONE_UNIT, PARTNERS_IN_SIGHT, RANDOM_PARTNERS, INTEGER, CONSTANT_GROWBACK,
 REPLACEMENT, KEEP_ID) = range(17)


def rule_codes(rules: Rules, width: int, height: int) -> np.ndarray:
    """The options `run_tick` branches on, as the integer array it takes."""
    r = rules
    codes = {
        WIDTH: width, HEIGHT: height, TORUS: r.torus, INCLUDE_OWN_CELL: r.include_own_cell,
        GOAL: movement.GOAL_WELFARE if r.move_goal == "welfare" else movement.GOAL_MOST_SUGAR,
        HARVEST: (movement.HARVEST_ALL if r.harvest == "all"
                  else movement.HARVEST_SUGAR_ALL_SPICE_ONE),
        METABOLISM: (movement.METABOLISM_SUBTRACT if r.metabolism_rule == "subtract"
                     else movement.METABOLISM_FRACTION),
        STARVATION: (movement.STARVE_SUGAR_OR_SPICE if r.starvation == "sugar-or-spice"
                     else movement.STARVE_SUGAR_EXACTLY_ZERO),
        SEQUENTIAL: r.move_timing == "sequential", TRADE: r.trade,
        ONE_UNIT: r.trade_rule == "one-unit-2019", PARTNERS_IN_SIGHT: r.trade_partners == "look",
        RANDOM_PARTNERS: r.partner_order == "random", INTEGER: r.trade_quantities == "integer",
        CONSTANT_GROWBACK: r.growback_rule == "constant", REPLACEMENT: r.replacement,
        KEEP_ID: r.replacement_id == "same",
    }
    return np.array([int(codes[k]) for k in range(len(codes))], dtype=np.int64)


@kernel
def activation_order(rng, alive, order):
    """The living agents in a fresh random order, written into the front of `order`; returns
    how many."""
    n = 0
    for agent in range(alive.shape[0]):
        if alive[agent]:
            order[n] = agent
            n += 1
    shuffle(rng, order[:n])
    return n


@kernel
def run_tick(rng, codes, fraction, sugar_rate, spice_rate, compound, age_low, age_high,
             next_id, traits, look_dx, look_dy, look_dist, look_offset, look_upto,
             cell, sugar, spice, m_sugar, m_spice, vision, age, max_age, alive, ids, head,
             next_in_cell, cell_sugar, cell_spice, sugar_capacity, spice_capacity,
             order, plans, traded, values, partner_cells, pairs, price_stats):
    """Advance the world one tick (G, M, T, R in the book's order, or the 2019 software's
    plan, trade, move). `traits` rows are the endowment, metabolism and vision ranges.

    Returns (starved, died of age, born, next unused id, exchanges, trade pairs recorded);
    `price_stats` receives the log-price sums of `trade.bargain`.
    """
    width, height, torus = codes[WIDTH], codes[HEIGHT], codes[TORUS] != 0
    own, goal = codes[INCLUDE_OWN_CELL] != 0, codes[GOAL]
    harvest, metabolism, starvation = codes[HARVEST], codes[METABOLISM], codes[STARVATION]
    if codes[CONSTANT_GROWBACK]:
        lifecycle.grow_back(cell_sugar, sugar_capacity, sugar_rate)
        lifecycle.grow_back(cell_spice, spice_capacity, spice_rate)
    else:
        lifecycle.grow_back_2019(rng, compound, cell_sugar, sugar_capacity)
    price_stats[:] = 0.0
    exchanges = n_pairs = 0
    living = order[:activation_order(rng, alive, order)]
    if codes[SEQUENTIAL]:
        starved = movement.move_in_turn(
            living, rng, width, height, torus, look_dx, look_dy, look_dist, look_offset,
            look_upto, own, goal, harvest, metabolism, fraction, starvation, cell, sugar, spice,
            m_sugar, m_spice, vision, alive, head, next_in_cell, cell_sugar, cell_spice,
            values)
        if codes[TRADE]:
            living = order[:activation_order(rng, alive, order)]
    else:
        movement.plan_moves(
            living, rng, width, height, torus, look_dx, look_dy, look_dist, look_offset,
            look_upto, own, goal, cell, sugar, spice, m_sugar, m_spice, vision, head,
            cell_sugar, cell_spice, values, plans)
    if codes[TRADE]:
        if codes[ONE_UNIT]:
            exchanges, n_pairs = trade.trade_one_unit(
                living, rng, width, height, torus, look_dx, look_dy, look_upto, fraction, cell,
                sugar, spice, vision, alive, ids, head, traded, pairs, price_stats)
        else:
            exchanges, n_pairs = trade.trade_bargains(
                living, rng, width, height, torus, look_dx, look_dy, look_offset, look_upto,
                codes[PARTNERS_IN_SIGHT] != 0, codes[RANDOM_PARTNERS] != 0,
                codes[INTEGER] != 0, cell, sugar, spice, m_sugar, m_spice, vision, alive, ids,
                head, next_in_cell, partner_cells, pairs, price_stats)
    if not codes[SEQUENTIAL]:
        starved = movement.carry_out_plans(
            living, plans, harvest, metabolism, fraction, starvation, cell, sugar, spice,
            m_sugar, m_spice, alive, head, next_in_cell, cell_sugar, cell_spice)
    old, born, next_id = lifecycle.age_and_replace(
        rng, codes[REPLACEMENT] != 0, codes[KEEP_ID] != 0, next_id, traits[0], traits[1],
        traits[2], (age_low, age_high), sugar, spice, m_sugar, m_spice, vision, age, max_age,
        alive, ids, cell, head, next_in_cell)
    return starved, old, born, next_id, exchanges, n_pairs
