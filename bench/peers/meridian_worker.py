"""Fits one national dataset with Google's Meridian and writes each channel's ROI summary.

Runs in the Meridian virtualenv (bench/peers/setup.sh), never in LiftOS's:
``python meridian_worker.py DATA.csv CONFIG.json OUT.json``. The CSV has ``date``, one
``spend_<channel>`` column per channel, the control columns named in the config and ``revenue``
(and ``geo`` plus ``population`` for meridian_geo_worker.py, which reuses ``fit`` below).

The model is Meridian's own defaults: ``ModelSpec()`` (ROI priors ``roi_m`` LogNormal(0.2, 0.9),
geometric adstock over 8 lags, Hill saturation, its default knots), KPI type ``revenue`` so
revenue per KPI is 1, each channel's spend given as both its media and its spend (the simulator
has no impressions), the controls as controls. ROI is ``Analyzer.roi``: the expected revenue
with the data's spend minus that with the channel's spend set to zero over all periods, divided
by the channel's spend over the same periods, which is how the truth is defined.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import arviz as az
import numpy as np
import pandas as pd
from meridian.analysis import analyzer
from meridian.data import data_frame_input_data_builder
from meridian.model import model, spec


def _summary(draws: np.ndarray) -> dict[str, list[Any]]:
    """Median and 90 % interval over (chains, draws) of an array (chains, draws, ...)."""
    flat = draws.reshape(-1, *draws.shape[2:])
    return {
        "median": np.median(flat, axis=0).tolist(),
        "lower": np.quantile(flat, 0.05, axis=0).tolist(),
        "upper": np.quantile(flat, 0.95, axis=0).tolist(),
    }


def _max_rhat(rhat: Any) -> float:
    """The largest finite R-hat in an ArviZ R-hat Dataset."""
    values = [np.asarray(v.values, dtype=float).ravel() for v in rhat.data_vars.values()]
    return float(np.nanmax(np.concatenate(values)))


def fit(frame: pd.DataFrame, config: dict[str, Any], geo: bool) -> dict[str, Any]:
    """Builds the InputData, samples the posterior and summarises ROI (national, and per geo
    when ``geo``). ``wall_s`` runs from building the model to the ROI draws."""
    channels = [c for c in frame.columns if c.startswith("spend_")]
    names = [c.removeprefix("spend_") for c in channels]
    controls = list(config["controls"])
    started = time.perf_counter()
    builder = data_frame_input_data_builder.DataFrameInputDataBuilder(
        kpi_type="revenue", default_time_column="date", default_kpi_column="revenue"
    )
    builder = builder.with_kpi(frame).with_media(
        frame, media_cols=channels, media_spend_cols=channels, media_channels=names
    )
    if controls:
        builder = builder.with_controls(frame, control_cols=controls)
    if geo:
        builder = builder.with_population(frame)
    mmm = model.Meridian(input_data=builder.build(), model_spec=spec.ModelSpec())
    mmm.sample_posterior(
        n_chains=int(config["chains"]),
        n_adapt=int(config["n_adapt"]),
        n_burnin=int(config["n_burnin"]),
        n_keep=int(config["n_keep"]),
        seed=int(config["seed"]),
    )
    study = analyzer.Analyzer(model_context=mmm.model_context, inference_data=mmm.inference_data)
    national = np.asarray(study.roi())
    per_geo = np.asarray(study.roi(aggregate_geos=False)) if geo else None
    wall = time.perf_counter() - started
    # ArviZ's rank-normalised split R-hat, as the PyMC-Marketing worker reports (Meridian's own
    # get_rhat is TFP's unsplit one); parameters pinned to zero give NaN and are skipped
    rhat = _max_rhat(az.rhat(mmm.inference_data.posterior))
    diverging = mmm.inference_data.sample_stats["diverging"].values
    result: dict[str, Any] = {
        "wall_s": wall,
        "max_rhat": rhat,
        "divergences": int(np.sum(diverging)),
        "channels": [str(c) for c in mmm.input_data.media_channel.values],
        **_summary(national),
    }
    if per_geo is not None:
        # (chains, draws, geos, channels); Meridian sorts geos, so say which row is which
        result["geos"] = [str(g) for g in mmm.input_data.geo.values]
        result["geo"] = _summary(per_geo)
    return result


def main(data_path: str, config_path: str, out_path: str) -> None:
    config: dict[str, Any] = json.loads(Path(config_path).read_text())
    frame = pd.read_csv(data_path, dtype={"date": str})
    result = fit(frame, config, geo=False)
    with open(out_path, "w") as out:
        json.dump(result, out)


if __name__ == "__main__":
    main(*sys.argv[1:4])
