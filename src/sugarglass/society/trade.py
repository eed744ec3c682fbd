"""Rule T: bilateral trade of sugar for spice, and the 2019 software's one-unit swap.

Both kernels run the agents in the order given (a fresh shuffle each tick) and leave what the
metrics need: the number of exchanges, the number of trading pairs, and the sums of log price
and its square, from which the geometric-mean price and the spread of log price follow without
keeping every price.
"""

from __future__ import annotations

import math

from numba import njit

from sugarglass.society.jit import kernel
from sugarglass.society.movement import PREFETCH_AHEAD, PREFETCH_CELLS, powered_welfare
from sugarglass.society.rng import random_below, shuffle
from sugarglass.society.space import (
    EMPTY,
    cell_at,
    clear_of_edges,
    prefetch_agent,
    prefetch_sight,
    rows_in_sight,
)

MRS_TOLERANCE = 1e-9  # MRSs this close (relative) are equal: no trade, as in Mesa


@njit(cache=True, inline="always")
def mrs(sugar, spice, m_sugar, m_spice):
    """Marginal rate of substitution (p / m2) / (s / m1): how much an agent values sugar.
    Computed as (p m1) / (s m2), one division instead of three."""
    return (spice * m_sugar) / (sugar * m_spice)


@njit(cache=True, inline="always")
def bargain(a, b, integer, sugar, spice, m_sugar, m_spice, stats):
    """Trade between `a` and `b` until one exchange more would not help both; returns count.

    stats[0] += sum of log price, stats[1] += sum of squared log price, stats[2] += prices.
    """
    exchanges = 0
    while True:
        sa, pa, sb, pb = sugar[a], spice[a], sugar[b], spice[b]
        if sa <= 0.0 or pa <= 0.0 or sb <= 0.0 or pb <= 0.0:
            break
        # MRS = (p m1) / (s m2). Both MRSs times the positive product of their denominators
        # compare as the MRSs do, and the price is the root of one quotient: one division
        # and one root (and the inverse price alongside, not after), where the MRSs
        # themselves would chain three divisions and a root.
        wants_a, has_a = pa * m_sugar[a], sa * m_spice[a]
        wants_b, has_b = pb * m_sugar[b], sb * m_spice[b]
        mrs_a, mrs_b = wants_a * has_b, wants_b * has_a
        if abs(mrs_a - mrs_b) <= MRS_TOLERANCE * max(mrs_a, mrs_b):
            break
        price = math.sqrt((wants_a * wants_b) / (has_a * has_b))
        inverse = math.sqrt((has_a * has_b) / (wants_a * wants_b))
        # The higher-MRS agent sells spice and buys sugar.
        seller, buyer = (a, b) if mrs_a > mrs_b else (b, a)
        if price >= 1.0:
            sugar_moved = 1.0
            spice_moved = math.floor(price) if integer else price
        else:
            sugar_moved = math.floor(inverse) if integer else inverse
            spice_moved = 1.0
        seller_sugar = sugar[seller] + sugar_moved
        seller_spice = spice[seller] - spice_moved
        buyer_sugar = sugar[buyer] - sugar_moved
        buyer_spice = spice[buyer] + spice_moved
        if seller_spice <= 0.0 or buyer_sugar <= 0.0:
            break
        ms, ps = m_sugar[seller], m_spice[seller]
        mb, pb_ = m_sugar[buyer], m_spice[buyer]
        # MRSs stay uncrossed: the seller's still above the buyer's, compared by
        # cross-multiplying the positive denominators away (same order, no division).
        if not (seller_spice * ms) * (buyer_sugar * pb_) > (buyer_spice * mb) * (seller_sugar * ps):
            break
        if not (powered_welfare(seller_sugar, seller_spice, ms, ps)
                > powered_welfare(sugar[seller], spice[seller], ms, ps)
                and powered_welfare(buyer_sugar, buyer_spice, mb, pb_)
                > powered_welfare(sugar[buyer], spice[buyer], mb, pb_)):
            break
        sugar[seller], spice[seller] = seller_sugar, seller_spice
        sugar[buyer], spice[buyer] = buyer_sugar, buyer_spice
        log_price = math.log(price)
        stats[0] += log_price
        stats[1] += log_price * log_price
        stats[2] += 1.0
        exchanges += 1
    return exchanges


@kernel
def trade_bargains(order, rng, width, height, torus, look_dx, look_dy, look_offset, look_upto,
                   partners_in_sight, random_order, integer, cell, sugar, spice, m_sugar,
                   m_spice, vision, alive, ids, head, next_in_cell, partner_cells, pairs,
                   stats):
    """Each agent in `order` bargains with every agent on its partner cells.

    Partner cells are the four adjacent ones, or (`partners_in_sight`) every cell its look
    covers; visited in random order or in the look table's fixed order. `pairs` receives the
    ids of each pair that traded (up to its length), `stats` the price sums (see `bargain`);
    `partner_cells` is scratch as long as the look table. Returns (exchanges, pairs recorded).
    """
    exchanges = 0
    n_pairs = 0
    diamond = look_dx.shape[0] > 4 * (look_upto.shape[0] - 1)
    prefetching = head.shape[0] >= PREFETCH_CELLS
    count = order.shape[0]
    for turn in range(count):
        a = order[turn]
        if prefetching and turn + 2 * PREFETCH_AHEAD < count:
            prefetch_agent(order[turn + 2 * PREFETCH_AHEAD], cell, sugar, spice, m_sugar,
                           m_spice, vision)
        if prefetching and turn + PREFETCH_AHEAD < count:
            ahead = order[turn + PREFETCH_AHEAD]
            prefetch_sight(cell[ahead], vision[ahead] if partners_in_sight else 1, diamond,
                           width, head, head, head)
        if not alive[a]:
            continue
        reach = vision[a] if partners_in_sight else 1
        here = cell[a]
        hx, hy = here % width, here // width
        inside = clear_of_edges(hx, hy, reach, width, height)
        n = 0
        for k in range(rows_in_sight(reach, look_upto)):
            if inside:
                target = here + look_offset[k]
            else:
                target = cell_at(hx, hy, look_dx[k], look_dy[k], width, height, torus)
                if target < 0:
                    continue
            if head[target] != EMPTY:
                partner_cells[n] = target
                n += 1
        if random_order:
            shuffle(rng, partner_cells[:n])
        for k in range(n):
            b = head[partner_cells[k]]
            while b != EMPTY:
                done = bargain(a, b, integer, sugar, spice, m_sugar, m_spice, stats)
                if done > 0:
                    exchanges += done
                    if n_pairs < pairs.shape[0]:
                        pairs[n_pairs, 0] = ids[a]
                        pairs[n_pairs, 1] = ids[b]
                    n_pairs += 1
                b = next_in_cell[b]
    return exchanges, min(n_pairs, pairs.shape[0])


@njit(cache=True, inline="always")
def ratio_2019(sugar, spice, fraction):
    """The 2019 'metabolic ratio' sqrt(spice * metabolism / sugar); 0 when sugar is 0 and NaN
    when the stocks have gone negative (which that software allowed)."""
    if sugar == 0.0:
        return 0.0
    inside = spice * fraction / sugar
    return math.sqrt(inside) if inside >= 0.0 else math.nan


@kernel
def trade_one_unit(order, rng, width, height, torus, look_dx, look_dy, look_upto, fraction,
                   cell, sugar, spice, vision, alive, ids, head, traded, pairs, stats):
    """The 2019 software's trade: each agent picks the neighbour in sight with the highest
    ratio; if its own ratio is higher and neither has traded this tick, it takes 1 sugar and
    pays sqrt(r_self * r_other) spice. Same arguments' meaning and return as
    `trade_bargains`; `traded` is scratch, one flag an agent."""
    traded[:] = False
    exchanges = 0
    for a in order:
        if not alive[a]:
            continue
        here = cell[a]
        hx, hy = here % width, here // width
        best = EMPTY
        best_ratio = 0.0
        ties = 0
        for k in range(rows_in_sight(vision[a], look_upto)):
            target = cell_at(hx, hy, look_dx[k], look_dy[k], width, height, torus)
            if target < 0 or head[target] == EMPTY:
                continue
            b = head[target]
            r = ratio_2019(sugar[b], spice[b], fraction)
            if math.isnan(r):
                continue
            if ties == 0 or r > best_ratio:
                best, best_ratio, ties = b, r, 1
            elif r == best_ratio:
                ties += 1
                if random_below(rng, ties) == 0:
                    best = b
        if best == EMPTY:
            continue
        own_ratio = ratio_2019(sugar[a], spice[a], fraction)
        if not own_ratio > best_ratio or traded[a] or traded[best]:
            continue
        price = math.sqrt(own_ratio * best_ratio)
        sugar[a] += 1.0
        spice[a] -= price
        sugar[best] -= 1.0
        spice[best] += price
        traded[a] = True
        traded[best] = True
        if price > 0.0:  # a zero price (partner with no sugar) has no logarithm
            log_price = math.log(price)
            stats[0] += log_price
            stats[1] += log_price * log_price
            stats[2] += 1.0
        if exchanges < pairs.shape[0]:
            pairs[exchanges, 0] = ids[a]
            pairs[exchanges, 1] = ids[best]
        exchanges += 1
    return exchanges, min(exchanges, pairs.shape[0])
