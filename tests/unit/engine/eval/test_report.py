"""The sandbox report is one self-contained HTML page with the summary and three charts."""

from __future__ import annotations

import base64
import re

import numpy as np
import pytest

from engine.eval.agents import EqualSplit, Optimizer, Reference, play
from engine.eval.report import render_report
from engine.eval.sandbox import Constraints
from engine.eval.scoring import summarize
from tests.unit.engine.eval.test_sandbox import BUDGET, FIT, WORLD


def test_the_report_holds_the_table_and_every_chart() -> None:
    limits = Constraints(total_budget=BUDGET)
    runs = {
        agent.name: play(WORLD, limits, agent, periods=12, episodes=6, seed=2, trace=True)
        for agent in (Reference(FIT), Optimizer(FIT), EqualSplit())
    }
    optimizer = runs["optimizer"]
    assert optimizer.spend_path is not None
    assert optimizer.spend_path.shape == (12, 6, 3)
    assert optimizer.profit_path is not None
    assert optimizer.profit_path.sum(axis=0) == pytest.approx(optimizer.profit)
    summaries = [summarize(run, runs["reference"]) for run in runs.values()]
    page = render_report(
        title="Sandbox <run>", summaries=summaries, runs=runs, channels=WORLD.channels
    )
    assert page.startswith("<!doctype html>")
    assert "Sandbox &lt;run&gt;" in page  # escaped
    assert page.count("<tr>") == 1 + 3
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(images) == 3
    assert all(base64.b64decode(i).startswith(b"\x89PNG") for i in images)


def test_the_report_needs_traced_runs() -> None:
    run = play(WORLD, Constraints(total_budget=BUDGET), EqualSplit(), periods=4, episodes=2, seed=0)
    with pytest.raises(ValueError, match="trace=True"):
        render_report(title="x", summaries=[], runs={"equal_split": run}, channels=WORLD.channels)
    assert np.isfinite(run.profit).all()
