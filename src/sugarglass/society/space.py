"""The lattice: which cells an agent sees, and who stands where.

Cells are numbered row by row (cell = y * width + x). Occupancy is a linked list per cell
(`head[cell]` is an agent or -1, `next_in_cell[agent]` the next one), so a cell normally holds
one agent but may hold several where a preset allows it (Mesa's start positions drawn with
replacement, the 2019 software's moves planned before anyone moves).
"""

from __future__ import annotations

import numpy as np
from numba import njit

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


@njit(cache=True, inline="always")
def offset_cell(cell, dx, dy, width, height, torus):
    """The cell at (dx, dy) from `cell`, or -1 beyond the edge of a bounded world."""
    x = cell % width + dx
    y = cell // width + dy
    if torus:
        x %= width
        y %= height
    elif x < 0 or x >= width or y < 0 or y >= height:
        return -1
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


@njit(cache=True)
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
