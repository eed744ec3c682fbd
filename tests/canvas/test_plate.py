"""The plate's heat flow against exact results: conservation, steady states, any time step."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import k0

from sugarglass.canvas import CanvasConfig, Plate
from sugarglass.canvas.plate import element_powers


def plate_area_m2(config: CanvasConfig) -> float:
    return config.columns * config.rows * (config.pitch_mm / 1000) ** 2


def test_heat_is_conserved_with_cooling_and_sources_off():
    config = CanvasConfig(cooling_tau_s=None)
    plate = Plate(config)
    powers = np.zeros(48)
    powers[[3, 17, 30]] = 5.0
    field = plate.advance(plate.uniform(config.ambient_c), powers, 300.0)
    # with the insulated plate, the rise is exactly the energy put in over the heat capacity
    gained = 3 * 5.0 * 300.0 / (config.plate_heat_capacity_j_m2k * plate_area_m2(config))
    assert field.mean() - config.ambient_c == pytest.approx(gained, rel=1e-12)
    assert field.max() - field.min() > 1.0  # the heat is still where it went in
    total = field.sum()
    for dt in (1.0, 60.0, 1e4, 1e9):
        field = plate.advance(field, np.zeros(48), dt)
        assert field.sum() == pytest.approx(total, rel=1e-13)
    assert np.ptp(field) < 1e-9  # and after a very long time it has spread evenly


def test_whole_plate_mean_settles_to_power_times_tau():
    """For the insulated-edge plate the mean obeys d<T>/dt = <q> - (<T> - Ta)/tau exactly."""
    config = CanvasConfig()
    plate = Plate(config)
    levels = np.zeros(48)
    levels[[0, 9, 22, 47]] = [3000, 1500, 2200, 2900]
    powers = element_powers(levels, config)
    mean_rise = powers.sum() * config.cooling_tau_s / (config.plate_heat_capacity_j_m2k * plate_area_m2(config))
    steady = plate.advance(plate.uniform(config.ambient_c), powers, 1e7)
    assert steady.mean() - config.ambient_c == pytest.approx(mean_rise, rel=1e-10)
    assert np.allclose(steady, plate.steady(powers), atol=1e-10)
    # and the mean approaches it as 1 - exp(-t / tau), whatever the spatial pattern
    after = plate.advance(plate.uniform(config.ambient_c), powers, 120.0)
    expected = mean_rise * -np.expm1(-120.0 / config.cooling_tau_s)
    assert after.mean() - config.ambient_c == pytest.approx(expected, rel=1e-10)


def test_lone_element_halo_matches_the_point_source_solution():
    """Far from a small source on a large plate, T - Ta = P / (2 pi alpha C) K0(r / L)."""
    config = CanvasConfig(columns=9, rows=9, cells_per_pitch=16, element_mm=10.0,
                          diffusivity_mm2_s=20.0, cooling_tau_s=180.0)
    spread = config.spread_mm  # 60 mm; the plate edge is 7.5 spread lengths away
    plate = Plate(config)
    powers = np.zeros(81)
    powers[40] = 2.0  # the centre element
    rise = plate.steady(powers) - config.ambient_c
    cell = config.pitch_mm / config.cells_per_pitch
    centres = (np.arange(rise.shape[1]) + 0.5) * cell
    r = np.hypot(centres - 450.0, centres[72] - 450.0)  # along the row just below the centre
    strength = powers[40] / config.plate_heat_capacity_j_m2k * 1e6  # K mm^2 / s
    exact = strength / (2 * np.pi * config.diffusivity_mm2_s) * k0(r / spread)
    band = (r > 1.5 * spread) & (r < 4.0 * spread)
    assert band.sum() > 20
    np.testing.assert_allclose(rise[72, band], exact[band], rtol=0.02)
    # round: the same distance along a column gives the same temperature
    np.testing.assert_allclose(rise[72, :], rise[:, 72], rtol=1e-9)


def test_spectral_step_matches_an_explicit_finite_difference_solver():
    config = CanvasConfig(columns=2, rows=3, cells_per_pitch=6, diffusivity_mm2_s=80.0, cooling_tau_s=100.0)
    plate = Plate(config)
    powers = np.array([2.0, 0.0, 0.0, 1.0, 0.0, 3.0])
    exact = plate.advance(plate.uniform(config.ambient_c), powers, 200.0)
    h = config.pitch_mm / config.cells_per_pitch
    q = plate.source(powers)
    u = np.zeros(plate.shape)
    dt = 0.05 * h * h / config.diffusivity_mm2_s
    steps = round(200.0 / dt)
    dt = 200.0 / steps
    for _ in range(steps):
        p = np.pad(u, 1, mode="edge")  # insulated edge: the ghost cell mirrors its neighbour
        lap = (p[:-2, 1:-1] + p[2:, 1:-1] + p[1:-1, :-2] + p[1:-1, 2:] - 4 * u) / h**2
        u = u + dt * (config.diffusivity_mm2_s * lap + q - u / config.cooling_tau_s)
    np.testing.assert_allclose(exact - config.ambient_c, u, rtol=2e-3, atol=1e-4)


def test_huge_steps_are_stable_exact_and_monotone():
    config = CanvasConfig()
    plate = Plate(config)
    levels = np.zeros(48)
    levels[::5] = 3000
    powers = element_powers(levels, config)
    steady = plate.steady(powers)
    field = plate.uniform(config.ambient_c)
    previous = field
    for dt in (1.0, 10.0, 100.0, 1e3, 1e5, 1e9, 1e300):
        field = plate.advance(field, powers, dt)
        assert np.isfinite(field).all()
        assert (field >= previous - 1e-9).all()  # heating from cold only ever warms
        assert (field <= steady + 1e-9).all()  # and never overshoots the steady state
        previous = field
    np.testing.assert_allclose(field, steady, atol=1e-9)
    # one step of 600 s is sixty steps of 10 s: the solver is exact, not just stable
    one = plate.advance(plate.uniform(config.ambient_c), powers, 600.0)
    many = plate.uniform(config.ambient_c)
    for _ in range(60):
        many = plate.advance(many, powers, 10.0)
    np.testing.assert_allclose(one, many, atol=1e-10)
    # switched off, it cools back monotonically to ambient, again at any step
    cooled = plate.advance(steady, np.zeros(48), 1e9)
    np.testing.assert_allclose(cooled, config.ambient_c, atol=1e-9)


def test_signed_drive_cools_below_its_midpoint():
    config = CanvasConfig(signed=True)
    powers = element_powers(np.array([0.0, 750.0, 1500.0, 2250.0, 3000.0] + [1500.0] * 43), config)
    np.testing.assert_allclose(powers[:5], [-1.9, -0.95, 0.0, 0.95, 1.9])
    field = Plate(config).steady(powers)
    assert field.min() < config.ambient_c - 0.5 < config.ambient_c + 0.5 < field.max()
    unsigned = element_powers(np.array([0.0, 1500.0, 3000.0] + [0.0] * 45), CanvasConfig(drive_gamma=2.0))
    np.testing.assert_allclose(unsigned[:3], [0.0, 1.9 / 4, 1.9])
