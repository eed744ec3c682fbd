"""Couplings: safe expressions over the signal, evaluated per tick with clamps."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from sugarglass.couplings import CouplingError, CouplingsConfig, compile_expression, schedule, signal_index

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
