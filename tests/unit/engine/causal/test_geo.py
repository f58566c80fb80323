"""Geo panels: validation that names geo and period, and a hierarchy that recovers the truth."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest
from jax.random import PRNGKey
from numpyro.infer.util import initialize_model

from engine.causal.data import DataError, GeoMMMData
from engine.causal.inference import FitConfig, fit
from engine.causal.model import build_design, dense_mass_sites, mmm_model
from engine.causal.simulate import simulate_geo
from engine.causal.spec import ModelSpec


def _panel(**overrides: object) -> GeoMMMData:
    rng = np.random.default_rng(0)
    fields: dict[str, object] = {
        "geos": ("north", "south"),
        "channels": ("tv", "search"),
        "spend": rng.uniform(0, 10, (2, 40, 2)),
        "kpi": rng.uniform(50, 100, (2, 40)),
        "controls": np.zeros((2, 40, 0)),
    }
    fields.update(overrides)
    return GeoMMMData(**fields)  # type: ignore[arg-type]


def test_national_view_sums_the_geos() -> None:
    panel = _panel()
    national = panel.national()
    assert panel.periods == 40
    np.testing.assert_allclose(national.spend, panel.spend.sum(axis=0))
    np.testing.assert_allclose(national.kpi, panel.kpi.sum(axis=0))


def _with(array: np.ndarray, index: tuple[int, ...], value: float) -> np.ndarray:
    changed = array.copy()
    changed[index] = value
    return changed


@pytest.mark.parametrize(
    ("overrides", "field", "fragment"),
    [
        ({"geos": ("north", "north")}, "geos", "unique"),
        ({"kpi": np.ones((3, 40))}, "kpi", "expected shape"),
        ({"spend": np.ones((2, 40, 3))}, "spend", "expected shape"),
        (
            {"spend": _with(np.ones((2, 40, 2)), (1, 7, 0), -2.0)},
            "tv",
            "negative spend -2.0 at geo 'south', period 7",
        ),
        ({"kpi": _with(np.ones((2, 40)), (0, 3), np.nan)}, "kpi", "geo 'north', period 3"),
        ({"kpi": _with(np.ones((2, 40)), (1, slice(None)), 0.0)}, "kpi", "geo 'south'"),
    ],
)
def test_bad_panels_name_the_field_geo_and_period(
    overrides: dict[str, object], field: str, fragment: str
) -> None:
    with pytest.raises(DataError, match=fragment) as info:
        _panel(**overrides)
    assert info.value.field == field


def test_geo_hierarchy_recovers_national_and_geo_roas() -> None:
    sim = simulate_geo(geos=4, periods=60, channels=2, seed=1, noise=0.03)
    spec = ModelSpec(max_lag=4)
    result = fit(sim.data, spec, FitConfig(chains=2, warmup=300, samples=300, seed=0))
    assert result.geos == sim.data.geos
    for estimate, truth in zip(result.roas, sim.true_roas, strict=True):
        assert estimate.lower <= truth <= estimate.upper, (estimate, truth)
    geo_truth = sim.true_geo_roas.ravel()
    covered = [r.lower <= t <= r.upper for r, t in zip(result.geo_roas, geo_truth, strict=True)]
    assert np.mean(covered) >= 0.75
    assert [(r.geo, r.channel) for r in result.geo_roas][:2] == [
        ("geo_1", "channel_1"),
        ("geo_1", "channel_2"),
    ]
    samples = result.samples
    draws = samples["roas"].shape[0]
    assert samples["geo_media"].shape == (draws, 4, 60, 2)
    assert samples["media"].shape == (draws, 60, 2)
    np.testing.assert_allclose(samples["geo_media"].sum(axis=1), samples["media"], rtol=1e-4)
    # National ROAS is total incremental KPI over total spend, geo by geo summed.
    fit_spend = sim.data.spend[:, : result.fit_periods].sum(axis=1)
    implied = (samples["geo_roas"] * fit_spend).sum(axis=1) / fit_spend.sum(axis=0)
    np.testing.assert_allclose(implied, samples["roas"], rtol=1e-4)
    incremental = samples["media"][:, : result.fit_periods].sum(axis=1) * result.kpi_scale
    np.testing.assert_allclose(incremental / fit_spend.sum(axis=0), samples["roas"], rtol=1e-3)
    assert result.diagnostics.r2 > 0.8


@pytest.mark.parametrize("spec", [ModelSpec(), ModelSpec(adstock="weibull", saturation="logistic")])
def test_a_panel_mass_matrix_is_dense_over_exactly_the_shared_sites(spec: ModelSpec) -> None:
    # Every site named must be a sampled site of the model (numpyro would ignore a typo and
    # leave that site diagonal), and no per-geo site may be in the dense block.
    sim = simulate_geo(geos=3, periods=40, channels=2, seed=1)
    design = build_design(sim.data, spec)
    model = partial(mmm_model, spec=spec)
    trace = initialize_model(PRNGKey(0), model, model_args=(design,)).model_trace
    sampled = {name for name, site in trace.items() if site["type"] == "sample"}
    sampled -= {name for name, site in trace.items() if site.get("is_observed")}
    dense = set(dense_mass_sites(design, spec))
    per_geo = {"kpi_level", "trend", "sigma", "geo_roas_z"}
    assert dense <= sampled
    assert dense == sampled - per_geo
