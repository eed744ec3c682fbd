"""The rules, one at a time on hand-made worlds, and the invariants of whole runs."""

from __future__ import annotations

import numpy as np
import pytest
from worlds import place, small_world

from sugarglass.society import (Metrics, Society, SocietyConfig, TickParams, load_society,
                                save_society)
from sugarglass.society.metrics import measure
from sugarglass.society.trade import mrs

STATE = ("ids", "cell", "sugar", "spice", "sugar_metabolism", "spice_metabolism", "vision",
         "age", "max_age", "alive", "cell_sugar", "cell_spice", "head", "next_in_cell", "rng")


def _set_agent(society: Society, agent: int, sugar: float, spice: float, m_sugar: int,
               m_spice: int, vision: int) -> None:
    society.sugar[agent], society.spice[agent] = sugar, spice
    society.sugar_metabolism[agent], society.spice_metabolism[agent] = m_sugar, m_spice
    society.vision[agent] = vision


def test_moves_to_the_best_cell_in_sight_and_harvests():
    sugar = np.zeros((1, 9))
    sugar[0, 6] = 4.0  # three cells east
    sugar[0, 0] = 3.0  # four cells west: less
    society = small_world("book", sugar, np.full((1, 9), 2.0), growback=0.0, trade=False)
    place(society, [(4, 0)])
    _set_agent(society, 0, 10, 10, 1, 1, 5)
    society.step()
    assert society.cell[0] == 6
    assert society.sugar[0] == 10 + 4 - 1 and society.spice[0] == 10 + 2 - 1
    assert society.cell_sugar[6] == 0 and society.cell_spice[6] == 0


def test_rays_do_not_see_diagonals_but_the_diamond_does():
    sugar = np.zeros((3, 3))
    sugar[0, 0] = 4.0  # diagonal of the centre
    for look, expected in (("rays", 4), ("diamond", 0)):
        society = small_world("book", sugar, np.ones((3, 3)), look=look, growback=0.0,
                              trade=False)
        place(society, [(1, 1)])
        _set_agent(society, 0, 10, 10, 1, 1, 2)
        society.step()
        assert society.cell[0] == expected, look


def test_nearest_among_equals():
    sugar = np.zeros((1, 9))
    sugar[0, 2] = sugar[0, 7] = 3.0  # two cells west, three east: same welfare
    for seed in range(8):
        society = small_world("book", sugar, np.ones((1, 9)), seed=seed, trade=False)
        place(society, [(4, 0)])
        _set_agent(society, 0, 10, 10, 1, 1, 4)
        society.step()
        assert society.cell[0] == 2


def test_random_among_equal_and_equally_near():
    sugar = np.zeros((1, 9))
    sugar[0, 2] = sugar[0, 6] = 3.0
    chosen = set()
    for seed in range(16):
        society = small_world("book", sugar, np.ones((1, 9)), seed=seed, trade=False)
        place(society, [(4, 0)])
        _set_agent(society, 0, 10, 10, 1, 1, 4)
        society.step()
        chosen.add(int(society.cell[0]))
    assert chosen == {2, 6}


def test_starves_when_sugar_runs_out():
    society = small_world("book", np.zeros((1, 3)), np.ones((1, 3)), growback=0.0, trade=False)
    place(society, [(1, 0)])
    _set_agent(society, 0, 2, 10, 3, 1, 1)
    society.step()
    assert not society.alive[0] and society.head.max() == -1
    assert society.last.starved == 1


def test_mesa_reading_stays_put_when_every_visible_cell_is_taken():
    """Mesa's example raises on max() of an empty list here; the engine must not."""
    society = small_world("mesa-g1mt", np.full((3, 3), 2.0), np.full((3, 3), 2.0),
                          agents=9, start_positions="distinct", trade=False)
    before = society.cell.copy()
    society.step()
    np.testing.assert_array_equal(society.cell, before)


def test_trade_makes_both_better_off_without_crossing():
    society = small_world("book", np.zeros((1, 2)), np.zeros((1, 2)), agents=2, growback=0.0)
    place(society, [(0, 0), (1, 0)])
    _set_agent(society, 0, 40, 5, 2, 2, 1)  # sugar-rich
    _set_agent(society, 1, 5, 40, 2, 2, 1)  # spice-rich
    society.step()
    s, p = society.sugar, society.spice
    assert society.last.exchanges > 0
    # both richer in welfare than without trade (after metabolism 38, 3 and 3, 38)
    assert s[0] * p[0] > 38 * 3 and s[1] * p[1] > 3 * 38
    assert mrs(s[1], p[1], 2, 2) >= mrs(s[0], p[0], 2, 2) * (1 - 1e-9)  # no crossing
    assert np.isclose(s.sum() + p.sum(), 38 + 3 + 3 + 38)  # trade moves goods, makes none
    assert len(society.trade_pairs) == 1


def test_integer_quantities_in_the_mesa_reading():
    society = small_world("mesa-g1mt", np.zeros((1, 2)), np.zeros((1, 2)), agents=2,
                          growback=0.0)
    place(society, [(0, 0), (1, 0)])
    _set_agent(society, 0, 40, 5, 2, 2, 1)
    _set_agent(society, 1, 5, 40, 2, 2, 1)
    society.step()
    assert society.last.exchanges > 0
    for stock in (society.sugar, society.spice):
        np.testing.assert_array_equal(stock[:2], np.round(stock[:2]))


def test_growback_rate_is_a_tick_parameter():
    society = small_world("book", np.full((2, 2), 4.0), np.full((2, 2), 4.0), trade=False)
    society.cell_sugar[:] = 0.0
    society.cell_spice[:] = 0.0
    place(society, [(0, 0)])
    _set_agent(society, 0, 50, 50, 1, 1, 1)
    society.step(TickParams(sugar_growback=0.5, spice_growback=3.0))
    free = society.head == -1
    assert (society.cell_sugar[free] == 0.5).all() and (society.cell_spice[free] == 3.0).all()


@pytest.mark.parametrize("preset", ["book", "book-replacement", "mesa-g1mt", "conversions-2019"])
def test_invariants_over_a_run(preset):
    society = Society.from_config(SocietyConfig(preset=preset), seed=3)
    ids = set(society.ids.tolist())
    for _ in range(60):
        society.step()
        live = np.flatnonzero(society.alive)
        # every living agent is on its cell's list, and the lists hold nobody else
        on_lists = []
        for cell in np.flatnonzero(society.head >= 0):
            agent = society.head[cell]
            while agent >= 0:
                assert society.cell[agent] == cell
                on_lists.append(agent)
                agent = society.next_in_cell[agent]
        assert sorted(on_lists) == sorted(live.tolist())
        assert (society.cell_sugar <= society.sugar_capacity).all()
        assert np.isfinite(society.sugar[live]).all()
        if preset in ("book", "book-replacement"):
            assert len(set(society.cell[live].tolist())) == len(live)  # one agent a cell
            assert (society.sugar[live] > 0).all() and (society.spice[live] > 0).all()
    if preset == "conversions-2019":
        assert set(society.ids.tolist()) == ids  # newborns keep the id of the dead
    if preset == "book-replacement":
        assert society.population == 400 and society.next_id > 400


def test_one_seed_one_run_bit_for_bit():
    runs = []
    for _ in range(2):
        society = Society.from_config(SocietyConfig(preset="book-replacement"), seed=11)
        metrics = Metrics()
        for _ in range(40):
            society.step()
            metrics.record(society)
        runs.append((society, metrics))
    (a, ma), (b, mb) = runs
    for name in STATE:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    for name, column in ma.as_arrays().items():
        np.testing.assert_array_equal(column, mb[name], err_msg=name)
    other = Society.from_config(SocietyConfig(preset="book-replacement"), seed=12)
    assert not np.array_equal(other.cell, Society.from_config(
        SocietyConfig(preset="book-replacement"), seed=11).cell)


@pytest.mark.parametrize("preset", ["book-replacement", "conversions-2019", "mesa-g1mt"])
def test_restored_run_continues_identically(tmp_path, preset):
    params = TickParams(compound=0.4, negative=0.2, max_age_min=40, max_age_max=149)
    params = params if preset == "conversions-2019" else None
    society = Society.from_config(SocietyConfig(preset=preset), seed=5)
    for _ in range(25):
        society.step(params)
    path = save_society(society, tmp_path / "run.npz")
    assert [p.name for p in tmp_path.iterdir()] == ["run.npz"]  # no temporary left behind
    restored = load_society(path)
    for _ in range(25):
        society.step(params)
        restored.step(params)
        assert society.last == restored.last
    for name in STATE:
        np.testing.assert_array_equal(getattr(society, name), getattr(restored, name),
                                      err_msg=name)
    assert restored.rules == society.rules and restored.tick == society.tick == 50


def test_save_replaces_an_older_checkpoint(tmp_path):
    society = Society.from_config(SocietyConfig(), seed=1)
    path = save_society(society, tmp_path / "run.npz")
    society.step()
    save_society(society, path)
    assert load_society(path).tick == 1


def test_state_round_trips_without_a_file_and_leaves_the_society_alone():
    society = Society.from_config(SocietyConfig(preset="book-replacement"), seed=3)
    for _ in range(10):
        society.step()
    scalars, arrays = society.state()
    arrays["sugar"][:] = -1.0  # a copy: writing to it must not touch the society
    assert (society.sugar >= 0).all()
    twin = Society.from_state(scalars, society.state()[1])
    for _ in range(10):
        assert society.step() == twin.step()
    for name in STATE:
        np.testing.assert_array_equal(getattr(society, name), getattr(twin, name), err_msg=name)


def test_measuring_with_or_without_kept_scratch_gives_the_same_row():
    society = Society.from_config(SocietyConfig(preset="book"), seed=4)
    metrics = Metrics()
    for _ in range(5):
        society.step()
        kept = metrics.record(society)
        fresh = measure(society)
        assert kept.keys() == fresh.keys()
        for name in kept:
            assert kept[name] == fresh[name] or (np.isnan(kept[name]) and np.isnan(fresh[name])), name


def test_2019_lifespan_follows_the_negative_score():
    society = Society.from_config(SocietyConfig(preset="conversions-2019"), seed=2)
    params = TickParams(compound=0.5, negative=1.0, max_age_min=40, max_age_max=149)
    for _ in range(200):
        society.step(params)
    born_late = society.age < 100  # everyone alive now was born under negative = 1
    assert (society.max_age[born_late] <= 149 - 75).all()
