"""The whole analysis pipeline on small real fits (no Ray): the plain first dataset, partial
platform claims, an answer window inside a longer history, and the stored result's round trip."""

from __future__ import annotations

import dataclasses
import math
import uuid
from datetime import date, timedelta
from typing import Any

import numpy as np
import polars as pl
import pytest

from cluster.repositories.causal import result_document, result_from_document
from deployments.causal.pipeline import AnalysisOutcome, prepare, run_analysis
from deployments.causal.schemas import AnalyzeRequest, ModelSpecOut
from engine.causal.canonical import canonicalise
from engine.causal.data import DataError
from engine.causal.simulate import simulate
from engine.causal.spec import ModelSpec
from engine.causal.storage import to_parquet

QUICK_FIT = {"chains": 1, "warmup": 80, "samples": 80, "seed": 1}
START = date(2023, 1, 2)
PERIODS = 70


def dataset(*, attributed: tuple[str, ...] = (), controls: bool = False) -> bytes:
    sim = simulate(periods=PERIODS, channels=3, seed=11)
    columns: dict[str, Any] = {"date": [START + timedelta(weeks=i) for i in range(PERIODS)]}
    for index, name in enumerate(("facebook", "google", "email")):
        columns[f"spend_{name}"] = sim.data.spend[:, index]
        if name in attributed:
            columns[f"attributed_{name}"] = 3.0 * sim.contributions[:, index]
    columns["revenue"] = sim.data.kpi
    if controls:
        columns["price"] = 10 + np.sin(np.arange(PERIODS))
    return to_parquet(canonicalise(pl.DataFrame(columns)))


def request(**extra: Any) -> AnalyzeRequest:
    return AnalyzeRequest.model_validate(
        {"dataset_id": str(uuid.uuid4()), "fit": QUICK_FIT, "calendar_controls": False, **extra}
    )


def run(content: bytes, analyze: AnalyzeRequest) -> AnalysisOutcome:
    return run_analysis(content, analyze, progress=lambda stage, fraction: None)


@pytest.fixture(scope="module")
def plain() -> AnalysisOutcome:
    return run(dataset(), request())


def test_a_dataset_without_platform_claims_fits(plain: AnalysisOutcome) -> None:
    result = plain.result
    assert set(result.incremental_roas) == {"facebook", "google", "email"}
    assert result.analysis.platform_claims is None
    assert result.window is None
    # Without a window the headline is the fit window's ROAS (float32 draws: to 1e-5).
    for channel in result.analysis.channels:
        assert channel.roas is not None
        assert result.incremental_roas[channel.channel].median == pytest.approx(
            channel.roas.median, rel=1e-5
        )


def test_claims_of_some_channels_are_set_against_those_channels() -> None:
    outcome = run(dataset(attributed=("facebook",), controls=True), request())
    claims = outcome.result.analysis.platform_claims
    assert claims is not None
    assert [c.channel for c in claims.channels] == ["facebook"]
    assert outcome.result.data.controls == ("price",)


def test_a_quarter_is_answered_from_a_fit_of_the_whole_history() -> None:
    content = dataset()
    # 13 weekly periods of 3 channels would be too few to fit on their own (4 * 3 + 8 = 20).
    quarter = request(date_range="2024-Q1")
    outcome = run(content, quarter)
    result = outcome.result
    assert result.data.periods == PERIODS  # the fit saw the whole history
    window = result.window
    assert window is not None
    assert (window.start, window.end) == (date(2024, 1, 1), date(2024, 3, 25))
    assert window.periods == 13
    for channel in window.channels:
        assert channel.roas is not None
        assert result.incremental_roas[channel.channel] == channel.roas
        assert channel.roas.lower <= channel.roas.median <= channel.roas.upper


def test_fit_range_limits_the_fit_and_date_range_must_lie_in_it() -> None:
    content = dataset()
    prepared = prepare(content, request(fit_range="2023"))
    assert prepared.input.national.dates[-1] == date(2023, 12, 25)
    assert prepared.window is None
    with pytest.raises(DataError) as caught:
        prepare(content, request(fit_range="2023", date_range="2024-Q1"))
    assert caught.value.field == "date_range"
    with pytest.raises(DataError) as caught:
        prepare(content, request(fit_range="2023-Q1"))
    assert caught.value.field == "fit_range"


def test_the_stored_result_reads_back_as_it_was(plain: AnalysisOutcome) -> None:
    result = plain.result
    assert result_from_document(result_document(result)) == result
    # A ratio over nothing is NaN; JSONB has no NaN, and the document must still read back.
    odd = dataclasses.replace(
        result, diagnostics=dataclasses.replace(result.diagnostics, r2=math.nan)
    )
    back = result_from_document(result_document(odd))
    assert math.isnan(back.diagnostics.r2)


def test_the_spec_response_shows_every_field_of_the_spec() -> None:
    spec = ModelSpec(channel_roas_priors={"tv": ModelSpec().roas_prior})
    shown = ModelSpecOut.of(spec).model_dump()
    assert set(shown) == {f.name for f in dataclasses.fields(ModelSpec)}
    assert shown["channel_roas_priors"]["tv"]["median"] == spec.roas_prior.median


def test_an_unknown_calendar_country_is_a_data_error_naming_it() -> None:
    with pytest.raises(DataError) as caught:
        prepare(dataset(), request(calendar_controls=True, country="XX"))
    assert caught.value.field == "country"
