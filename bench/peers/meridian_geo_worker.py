"""Fits one geo panel with Google's Meridian geo model; national and per-geo ROI summaries.

Runs in the Meridian virtualenv: ``python meridian_geo_worker.py DATA.csv CONFIG.json OUT.json``.
The CSV is meridian_worker.py's plus ``geo`` and ``population`` columns, one row per geo and
week. The model is the national worker's (Meridian's defaults, spend as media) with a geo
dimension: Meridian's hierarchical geo model, each geo's media effects drawn around national
ones, KPI scaled by population. The output adds ``geos`` (Meridian's order) and ``geo``:
median, lower and upper ROI as geos x channels lists.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pandas as pd
from meridian_worker import fit


def main(data_path: str, config_path: str, out_path: str) -> None:
    config: dict[str, Any] = json.loads(Path(config_path).read_text())
    frame = pd.read_csv(data_path, dtype={"date": str, "geo": str})
    result = fit(frame, config, geo=True)
    with open(out_path, "w") as out:
        json.dump(result, out)


if __name__ == "__main__":
    main(*sys.argv[1:4])
