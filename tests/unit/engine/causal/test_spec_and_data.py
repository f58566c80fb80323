"""Model specification and input validation: errors name the field and the problem."""

from __future__ import annotations

import numpy as np
import pytest

from engine.causal.data import DataError, LiftTest, MMMData
from engine.causal.spec import ModelSpec, RoasPrior


def test_spec_is_frozen_and_validated() -> None:
    spec = ModelSpec(channel_roas_priors={"tv": RoasPrior(median=3.0)})
    assert spec.prior_for("tv").median == 3.0
    assert spec.prior_for("search") == spec.roas_prior
    with pytest.raises(AttributeError):
        spec.max_lag = 3  # type: ignore[misc]
    with pytest.raises(ValueError, match="adstock"):
        ModelSpec(adstock="linear")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="spread"):
        RoasPrior(median=2.0, spread=1.0)
    with pytest.raises(ValueError, match="roas_pooling"):
        ModelSpec(roas_pooling=1.0)
    with pytest.raises(ValueError, match="geo_roas_spread"):
        ModelSpec(geo_roas_spread=0.0)


def _data(**overrides: object) -> MMMData:
    periods = 60
    rng = np.random.default_rng(0)
    fields: dict[str, object] = {
        "channels": ("tv", "search"),
        "spend": rng.uniform(0, 10, (periods, 2)),
        "kpi": rng.uniform(50, 100, periods),
        "controls": np.zeros((periods, 0)),
    }
    fields.update(overrides)
    return MMMData(**fields)  # type: ignore[arg-type]


def test_valid_data() -> None:
    assert _data().periods == 60


@pytest.mark.parametrize(
    ("overrides", "field", "fragment"),
    [
        ({"spend": np.full((60, 2), -1.0)}, "tv", "negative spend"),
        ({"kpi": np.zeros(60)}, "kpi", "zero in every period"),
        ({"kpi": np.r_[np.ones(59), np.nan]}, "kpi", "period 59"),
        (
            {"spend": np.ones((10, 2)), "kpi": np.ones(10), "controls": np.zeros((10, 0))},
            "rows",
            "too few",
        ),
        ({"lift_tests": (LiftTest("radio", 0, 3, 10.0, 1.0),)}, "lift_tests", "unknown channel"),
        ({"lift_tests": (LiftTest("tv", 50, 70, 10.0, 1.0),)}, "lift_tests", "outside"),
    ],
)
def test_bad_data_names_the_field(overrides: dict[str, object], field: str, fragment: str) -> None:
    with pytest.raises(DataError, match=fragment) as info:
        _data(**overrides)
    assert info.value.field == field
