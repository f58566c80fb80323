"""The spend-slack controls that let lift tests correct a confounded channel."""

from __future__ import annotations

import numpy as np

from engine.causal.calibration import with_spend_slack
from engine.causal.data import LiftTest
from engine.causal.simulate import simulate


def test_no_lift_tests_no_change() -> None:
    data = simulate(periods=60, channels=3, seed=1).data
    assert with_spend_slack(data) is data


def test_each_tested_channel_gets_its_own_spend_as_a_control_once() -> None:
    data = simulate(periods=60, channels=3, seed=1).data
    tests = (
        LiftTest("channel_3", 10, 19, 1000.0, 100.0),
        LiftTest("channel_1", 30, 39, 500.0, 50.0),
        LiftTest("channel_3", 40, 49, 900.0, 100.0),
    )
    calibrated = with_spend_slack(data.__class__(**{**data.__dict__, "lift_tests": tests}))
    assert calibrated.control_names[-2:] == ("channel_1_spend_slack", "channel_3_spend_slack")
    np.testing.assert_array_equal(calibrated.controls[:, -2], data.spend[:, 0])
    np.testing.assert_array_equal(calibrated.controls[:, -1], data.spend[:, 2])
    assert calibrated.lift_tests == tests
