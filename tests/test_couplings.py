"""Couplings: safe expressions over the signal, evaluated per tick with clamps."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from pydantic import ValidationError

from sugarglass.couplings import (
    CONDITIONS,
    CouplingError,
    CouplingsConfig,
    compile_expression,
    inert_couplings,
    schedule,
    signal_index,
)
from sugarglass.run import ALIASES, tick_parameters
from sugarglass.society import Society, SocietyConfig

FIELDS = {
    "compound": np.array([0.6, -0.4, 0.0]),
    "compnorm": np.array([0.8, 0.3, 0.5]),
    "pos": np.array([0.5, 0.0, 0.1]),
    "neg": np.array([0.0, 0.4, 0.1]),
    "neu": np.array([0.5, 0.6, 0.8]),
    "count": np.array([3.0, 1.0, 0.0]),
}
PARAMETERS = ("sugar_growback", "spice_growback", "max_age_max", "compound", "negative")


def test_expressions_evaluate_over_every_tick_with_clamps():
    config = CouplingsConfig(set={
        "sugar_growback": "1 + 3 * compnorm",
        "max_age_max": {"expr": "150 - 75 * neg", "min": 120},
        "spice_growback": "2 if compound > 0 else max(0.5, count / 4)",
    })
    plan = schedule(config, FIELDS, 5, PARAMETERS)
    assert plan.steps == 5 and list(plan.signal_index) == [0, 1, 2, 0, 1]
    assert np.allclose(plan.values["sugar_growback"], [3.4, 1.9, 2.5, 3.4, 1.9])
    assert np.allclose(plan.values["max_age_max"], [150, 120, 142.5, 150, 120])
    assert np.allclose(plan.values["spice_growback"], [2, 0.5, 0.5, 2, 0.5])
    assert plan.at(1) == {"sugar_growback": pytest.approx(1.9), "max_age_max": 120.0, "spice_growback": 0.5}


def test_signal_exhaustion_rules():
    assert list(signal_index(3, 7, "cycle")) == [0, 1, 2, 0, 1, 2, 0]
    assert list(signal_index(3, 5, "hold")) == [0, 1, 2, 2, 2]
    assert list(signal_index(3, 5, "stop")) == [0, 1, 2]
    plan = schedule(CouplingsConfig(when_exhausted="stop", set={"compound": "compound"}), FIELDS, 10, PARAMETERS)
    assert plan.steps == 3


def test_the_2019_preset_passes_the_row_through():
    plan = schedule(CouplingsConfig(preset="conversions-2019"), FIELDS, 3, PARAMETERS)
    assert np.array_equal(plan.values["compound"], FIELDS["compound"])
    assert np.array_equal(plan.values["negative"], FIELDS["neg"])


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("1 + 3 * compnrm", "unknown name 'compnrm' (the signal has: compound, compnorm"),
        ("__import__('os')", "unknown function '__import__'"),
        ("__import__('os').system('true')", "is not allowed"),
        ("compound.real", "'compound.real' is not allowed"),
        ("(lambda: 1)()", "is not allowed"),
        ("[compound]", "is not allowed"),
        ("1 +", "cannot read it"),
        ("clamp(compound, 0)", "clamp() takes 3 argument(s), not 2"),
        ("'text'", "is not allowed"),
    ],
)
def test_bad_expressions_name_the_parameter_and_the_problem(expr, message):
    with pytest.raises(ValidationError) as caught:
        CouplingsConfig(set={"sugar_growback": expr})
    assert "couplings.set.sugar_growback" in str(caught.value) and message in str(caught.value)


def test_unknown_parameter_and_non_finite_results_are_refused():
    with pytest.raises(CouplingError, match="no per-tick parameter 'growbak'"):
        schedule(CouplingsConfig(set={"growbak": "1"}), FIELDS, 3, PARAMETERS)
    with pytest.raises(CouplingError, match="sugar_growback = 'log\\(count\\)' is not a finite number at tick 2"):
        schedule(CouplingsConfig(set={"sugar_growback": "log(count)"}), FIELDS, 3, PARAMETERS)
    with pytest.raises(ValidationError, match="min 3.0 is above max 1.0"):
        CouplingsConfig(set={"sugar_growback": {"expr": "1", "min": 3, "max": 1}})


def test_compiled_expression_is_arrays_in_arrays_out():
    evaluate = compile_expression("-compound ** 2 + abs(neg)")
    assert np.allclose(evaluate(FIELDS), -FIELDS["compound"] ** 2 + FIELDS["neg"])


README_COUPLINGS = CouplingsConfig(set={"growback": "0.5 + 1.5 * compnorm",
                                        "max_age": {"expr": "150 - 75 * neg", "min": 60}})


def test_a_lifespan_coupling_without_replacement_is_named_with_its_fix():
    [sentence] = inert_couplings(README_COUPLINGS, SocietyConfig(preset="book", options={"agents": 400}))
    assert sentence.startswith("couplings.set.max_age cannot act: society preset 'book' has replacement = false")
    assert "set [society.options] replacement = true or use preset 'book-replacement'" in sentence
    assert inert_couplings(README_COUPLINGS, SocietyConfig(preset="book-replacement")) == []
    [sentence] = inert_couplings(CouplingsConfig(set={"max_age_min": "40"}),
                                 SocietyConfig(preset="book-replacement", options={"replacement": False}))
    assert "[society.options] sets replacement = false" in sentence and "book-replacement'" not in sentence


def test_the_2019_couplings_need_the_2019_rules():
    assert inert_couplings(CouplingsConfig(preset="conversions-2019"), SocietyConfig(preset="conversions-2019")) == []
    compound, negative = inert_couplings(CouplingsConfig(preset="conversions-2019"), SocietyConfig(preset="book"))
    assert compound.startswith("the compound coupling of couplings preset 'conversions-2019' cannot act")
    assert 'growback_rule = "constant"' in compound and "couple growback instead" in compound
    assert 'lifespan_rule = "fixed"' in negative and "couple max_age instead" in negative
    [growback] = inert_couplings(CouplingsConfig(set={"growback": "1 + compnorm"}), SocietyConfig(preset="conversions-2019"))
    assert 'growback_rule = "sentiment-2019"' in growback and "couple compound instead" in growback


def test_spice_couplings_need_spice():
    no_spice = SocietyConfig(landscape={"kind": "uniform", "spice_capacity": 0})
    [spice] = inert_couplings(CouplingsConfig(set={"spice_growback": "2 * compnorm"}), no_spice)
    assert spice.startswith("couplings.set.spice_growback cannot act: the landscape is uniform with spice_capacity = 0")
    assert inert_couplings(CouplingsConfig(set={"growback": "2 * compnorm"}), no_spice) == []  # sugar still grows
    assert inert_couplings(CouplingsConfig(set={"spice_growback": "1"}), SocietyConfig()) == []


def test_every_parameter_a_coupling_may_set_is_checked():
    assert set(CONDITIONS) == set(tick_parameters())


# Two values of each parameter far enough apart that any rule reading it runs differently.
EXTREMES = {"growback": (0.0, 3.0), "sugar_growback": (0.0, 3.0), "spice_growback": (0.0, 3.0),
            "max_age": (12, 150), "max_age_max": (12, 150), "max_age_min": (5, 90),
            "compound": (-0.5, 0.9), "negative": (0.0, 1.0)}
WORLDS = {
    "book": SocietyConfig(preset="book", options={"agents": 80}),
    "book-replacement": SocietyConfig(preset="book-replacement", options={"agents": 80}),
    "mesa-g1mt": SocietyConfig(preset="mesa-g1mt", options={"agents": 80}),
    "conversions-2019": SocietyConfig(preset="conversions-2019"),
    "2019 without replacement": SocietyConfig(preset="conversions-2019", options={"replacement": False}),
    "no spice": SocietyConfig(preset="book-replacement", options={"agents": 80},
                              landscape={"kind": "uniform", "spice_capacity": 0, "sugar_capacity": 3}),
    "no sugar": SocietyConfig(preset="book-replacement", options={"agents": 80},
                              landscape={"kind": "uniform", "sugar_capacity": 0, "spice_capacity": 3}),
}


def run_with(config: SocietyConfig, name: str, value: float) -> Society:
    society = Society.from_config(config, seed=5)
    fields = {target: value for target in ALIASES.get(name, (name,))}
    params = replace(society.default_params(), **{k: int(v) if k.startswith("max_age") else float(v)
                                                  for k, v in fields.items()})
    for _ in range(120):
        society.step(params)
    return society


@pytest.mark.parametrize("world", sorted(WORLDS))
def test_a_coupling_is_called_inert_exactly_when_the_run_ignores_it(world):
    """The sentences are checked against the engine itself: a parameter the warning calls inert
    leaves the run bit for bit the same at both extremes; any other changes it."""
    config = WORLDS[world]
    for name, (low, high) in EXTREMES.items():
        inert = bool(inert_couplings(CouplingsConfig(set={name: str(low)}), config))
        a, b = run_with(config, name, low), run_with(config, name, high)
        same = all(np.array_equal(getattr(a, k), getattr(b, k)) for k in ("sugar", "alive", "cell", "rng", "cell_sugar"))
        assert same == inert, f"{world}: {name} is {'called inert but changes the run' if inert else 'ignored by the run but not called inert'}"
