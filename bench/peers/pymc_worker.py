"""Fits one national dataset with PyMC-Marketing and writes each channel's ROAS draws' summary.

Runs in the PyMC-Marketing virtualenv (bench/peers/setup.sh), never in LiftOS's:
``python pymc_worker.py DATA.csv CONFIG.json OUT.json``. The CSV has ``date``, one
``spend_<channel>`` column per channel, the control columns named in the config and ``revenue``.
The model is PyMC-Marketing's (multidimensional) ``MMM``: geometric adstock over ``l_max``
periods, logistic saturation, ``yearly_seasonality`` Fourier pairs, the controls as linear terms,
its default priors, sampled by nutpie. ROAS is computed as the truth is: each channel's
contribution summed over all periods of the fit, in revenue units, divided by its spend over the
same periods.
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import arviz as az
import numpy as np
import pandas as pd
from pymc_marketing.mmm import GeometricAdstock, LogisticSaturation
from pymc_marketing.mmm.multidimensional import MMM


def main(data_path: str, config_path: str, out_path: str) -> None:
    warnings.filterwarnings("ignore")  # its FutureWarnings would bury a real error on stderr
    config: dict[str, Any] = json.loads(Path(config_path).read_text())
    frame = pd.read_csv(data_path, parse_dates=["date"])
    channels = [c for c in frame.columns if c.startswith("spend_")]
    controls = list(config["controls"])
    x, y = frame[["date", *channels, *controls]], frame["revenue"]
    started = time.perf_counter()
    mmm = MMM(
        date_column="date",
        channel_columns=channels,
        target_column="revenue",
        adstock=GeometricAdstock(l_max=int(config["l_max"])),
        saturation=LogisticSaturation(),
        control_columns=controls or None,
        yearly_seasonality=int(config["yearly_seasonality"]),
    )
    mmm.build_model(x, y)
    mmm.add_original_scale_contribution_variable(var=["channel_contribution"])
    mmm.fit(
        x,
        y,
        chains=int(config["chains"]),
        tune=int(config["tune"]),
        draws=int(config["draws"]),
        nuts_sampler=str(config["sampler"]),
        random_seed=int(config["seed"]),
        progressbar=False,
    )
    posterior = mmm.idata.posterior
    contribution = posterior["channel_contribution_original_scale"].sum(dim="date")
    draws = contribution.stack(sample=("chain", "draw")).transpose("sample", "channel").values
    roas = draws / frame[channels].sum().to_numpy()[None, :]
    wall = time.perf_counter() - started
    # ArviZ's rank-normalised split R-hat over the sampled parameters
    free = [v.name for v in mmm.model.free_RVs]
    rhat = az.rhat(posterior[free])
    values = [np.asarray(v.values, dtype=float).ravel() for v in rhat.data_vars.values()]
    diverging = int(mmm.idata.sample_stats["diverging"].values.sum())
    result = {
        "wall_s": wall,
        "max_rhat": float(np.nanmax(np.concatenate(values))),
        "divergences": diverging,
        "median": np.median(roas, axis=0).tolist(),
        "lower": np.quantile(roas, 0.05, axis=0).tolist(),
        "upper": np.quantile(roas, 0.95, axis=0).tolist(),
        "channels": [str(c).removeprefix("spend_") for c in contribution["channel"].values],
    }
    with open(out_path, "w") as out:
        json.dump(result, out)


if __name__ == "__main__":
    main(*sys.argv[1:4])
