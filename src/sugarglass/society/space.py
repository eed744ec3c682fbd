"""The lattice: which cells an agent sees, and who stands where.

Cells are numbered row by row (cell = y * width + x). Occupancy is a linked list per cell
(`head[cell]` is an agent or -1, `next_in_cell[agent]` the next one), so a cell normally holds
one agent but may hold several where a preset allows it (Mesa's start positions drawn with
replacement, the 2019 software's moves planned before anyone moves).
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from sugarglass.society.jit import kernel
from sugarglass.society.rng import random_below

EMPTY = -1


def look_table(shape: str, max_reach: int, euclidean: bool) -> tuple[np.ndarray, ...]:
    """Offsets an agent of vision v may see: the prefix of rows with reach <= v.

    `rays` are the four lattice directions (the book); `diamond` is every cell within Manhattan
    radius v (Mesa). Rows are sorted by reach, then north, south, west, east, so the prefix for
    reach 1 is the four adjacent cells in both shapes. The last column is the distance used to
    break ties between equally good cells: Manhattan reach, or squared Euclidean distance.
    """
    rows = []
    for reach in range(1, max_reach + 1):
        if shape == "rays":
            ring = [(0, -reach), (0, reach), (-reach, 0), (reach, 0)]
        else:
            ring = [(dx, dy) for dy in range(-reach, reach + 1) for dx in range(-reach, reach + 1)
                    if abs(dx) + abs(dy) == reach]
        for dx, dy in ring:
            rows.append((dx, dy, reach, dx * dx + dy * dy if euclidean else reach))
    table = np.array(rows, dtype=np.int32).reshape(-1, 4)
    return (np.ascontiguousarray(table[:, 0]), np.ascontiguousarray(table[:, 1]),
            np.ascontiguousarray(table[:, 2]), np.ascontiguousarray(table[:, 3]))


def look_shortcuts(look_dx: np.ndarray, look_dy: np.ndarray, look_reach: np.ndarray,
                   width: int) -> tuple[np.ndarray, np.ndarray]:
    """Two tables that spare the kernels work per cell looked at.

    `offset[k]`: row k as a step in cell numbers (dy * width + dx), valid for an agent at
    least its vision away from every edge, which needs no bounds test per cell.
    `upto[v]`: how many rows have reach <= v, so a look is a plain loop over a prefix.
    """
    offset = look_dy.astype(np.int64) * width + look_dx
    upto = np.searchsorted(look_reach, np.arange(int(look_reach[-1]) + 1), side="right")
    return offset, upto.astype(np.int64)


@njit(cache=True, inline="always")
def rows_in_sight(reach, upto):
    """Rows of the look table within `reach` (a vision beyond the table's sees the table)."""
    return upto[min(reach, upto.shape[0] - 1)]


@njit(cache=True, inline="always")
def clear_of_edges(hx, hy, reach, width, height):
    """True when every cell within `reach` of (hx, hy) is inside the world (no wrap, no -1)."""
    return reach <= hx < width - reach and reach <= hy < height - reach


@njit(cache=True, inline="always")
def cell_at(x, y, dx, dy, width, height, torus):
    """The cell at (dx, dy) from column x, row y; -1 beyond the edge of a bounded world.

    Takes the coordinates rather than the cell number so a look of many cells divides once.
    """
    x += dx
    y += dy
    if x < 0 or x >= width or y < 0 or y >= height:
        if not torus:
            return -1
        x %= width
        y %= height
    return y * width + x


@njit(cache=True, inline="always")
def link(agent, cell, head, next_in_cell):
    """Put `agent` on `cell`."""
    next_in_cell[agent] = head[cell]
    head[cell] = agent


@njit(cache=True, inline="always")
def unlink(agent, cell, head, next_in_cell):
    """Take `agent` off `cell` (the list is almost always one long)."""
    if head[cell] == agent:
        head[cell] = next_in_cell[agent]
    else:
        prev = head[cell]
        while next_in_cell[prev] != agent:
            prev = next_in_cell[prev]
        next_in_cell[prev] = next_in_cell[agent]
    next_in_cell[agent] = EMPTY


@kernel
def random_free_cell(rng, head):
    """A cell drawn uniformly among the empty ones; -1 if none.

    Random probes first (the world is mostly empty); after 64 misses, a scan from a random
    cell, which still lands on each empty cell with the probability of the gap before it, close
    enough to uniform for a crowded world and always terminating.
    """
    cells = head.shape[0]
    for _ in range(64):
        cell = random_below(rng, cells)
        if head[cell] == EMPTY:
            return cell
    start = random_below(rng, cells)
    for k in range(cells):
        cell = (start + k) % cells
        if head[cell] == EMPTY:
            return cell
    return -1


@njit(cache=True)
def rebuild_occupancy(cell, alive, head, next_in_cell):
    """Rebuild every cell's list from the agents' positions (after agents are renumbered)."""
    head[:] = EMPTY
    next_in_cell[:] = EMPTY
    for agent in range(cell.shape[0] - 1, -1, -1):
        if alive[agent]:
            link(agent, cell[agent], head, next_in_cell)


@intrinsic
def prefetch(typingctx, array, index):
    """Ask the CPU to start loading array[index] into cache (LLVM's prefetch; never faults).

    Agents act in random order, so each one's neighbourhood is a fresh set of cache misses;
    asking for the next agents' cells while this one thinks overlaps those waits.
    """

    def codegen(context, builder, signature, args):
        array_type = signature.args[0]
        view = context.make_array(array_type)(context, builder, args[0])
        pointer = cgutils.get_item_pointer(context, builder, array_type, view, [args[1]],
                                           wraparound=False)
        byte_pointer, i32 = ir.IntType(8).as_pointer(), ir.IntType(32)
        function = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [byte_pointer, i32, i32, i32]),
            "llvm.prefetch.p0")
        # read access, high locality, data cache
        builder.call(function, [builder.bitcast(pointer, byte_pointer), ir.Constant(i32, 0),
                                ir.Constant(i32, 3), ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return types.void(array, index), codegen


@njit(cache=True, inline="always")
def prefetch_agent(agent, cell, sugar, spice, m_sugar, m_spice, vision):
    """Start loading one agent's own fields."""
    prefetch(cell, agent)
    prefetch(sugar, agent)
    prefetch(spice, agent)
    prefetch(m_sugar, agent)
    prefetch(m_spice, agent)
    prefetch(vision, agent)


@njit(cache=True, inline="always")
def prefetch_sight(here, reach, diamond, width, head, cell_sugar, cell_spice):
    """Start loading the cache lines of every row an agent on `here` can see within `reach`:
    both ends of each row segment (a segment of up to 11 cells spans at most two lines)."""
    last = head.shape[0] - 1
    for dy in range(-reach, reach + 1):
        half = reach - abs(dy) if diamond or dy == 0 else 0
        for end in (-half, half):
            target = min(max(here + dy * width + end, 0), last)
            prefetch(head, target)
            prefetch(cell_sugar, target)
            prefetch(cell_spice, target)
