"""Experiments as the lever against confounding.

A marketer who spends more when demand is high gives spend a non-causal association with the
KPI. The time series alone cannot tell that association from the channel's effect, so an
observational fit reports it as effect, precisely and wrongly (``bench/mmm_confounder.py``:
ROAS x1 188 against a true 93).

A lift test measures the causal effect directly. For it to correct the estimate, the model needs
somewhere else to put the association it no longer attributes to the channel: a linear term in
the channel's own spend (no carry-over, no saturation), entered as a control for every channel
with a lift test. The experiment pins the causal part; the slack term takes the rest. Without
it, the posterior settles between the experiment and the confounded time series, and only a very
precise experiment (about 2 % standard error) would move it to the truth.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TypeVar

import numpy as np

from engine.causal.data import GeoMMMData, MMMData

SLACK_SUFFIX = "_spend_slack"

Data = TypeVar("Data", MMMData, GeoMMMData)


def with_spend_slack(data: Data) -> Data:
    """``data`` with a spend-slack control added for each channel that a lift test covers
    (unchanged when there are no lift tests)."""
    tested: list[str] = sorted({t.channel for t in data.lift_tests}, key=data.channels.index)
    if not tested:
        return data
    indices = [data.channels.index(c) for c in tested]
    slack = data.spend[..., indices]
    return replace(
        data,
        controls=np.concatenate([data.controls, slack], axis=-1),
        control_names=(*data.control_names, *(f"{c}{SLACK_SUFFIX}" for c in tested)),
    )
