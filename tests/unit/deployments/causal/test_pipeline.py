"""The job pipeline's pure parts: request → spec, variant candidates, JSON, fingerprints."""

from __future__ import annotations

import json
import uuid

import pytest

from deployments.causal.pipeline import (
    build_spec,
    search_candidates,
)
from deployments.causal.schemas import AnalyzeRequest, VariantSearchIn
from deployments.causal.tasks import fingerprint
from engine.causal.data import DataError
from engine.causal.persist import spec_from_dict, spec_to_dict


def request(**extra: object) -> AnalyzeRequest:
    return AnalyzeRequest.model_validate({"dataset_id": str(uuid.uuid4()), **extra})


def test_defaults_fit_every_period_with_a_carry_over_length_for_the_frequency() -> None:
    weekly, daily = build_spec(request(), "weekly", 156), build_spec(request(), "daily", 730)
    assert (weekly.holdout_periods, weekly.max_lag) == (0, 8)
    assert (daily.holdout_periods, daily.max_lag) == (0, 21)
    assert build_spec(request(spec={"holdout_periods": 13}), "weekly", 156).holdout_periods == 13


def test_spec_follows_the_request_and_the_data_frequency() -> None:
    spec = build_spec(
        request(
            spec={
                "adstock": "weibull",
                "saturation": "logistic",
                "max_lag": 6,
                "channel_roas_priors": {"tv": {"median": 2.0}},
            }
        ),
        "daily",
        400,
    )
    assert (spec.adstock, spec.saturation, spec.max_lag) == ("weibull", "logistic", 6)
    assert spec.seasonality_period == 365.25
    assert spec.holdout_periods == 0
    assert spec.prior_for("tv").median == 2.0
    assert spec_from_dict(json.loads(json.dumps(spec_to_dict(spec)))) == spec


def test_a_holdout_that_leaves_nothing_to_fit_is_a_data_error() -> None:
    with pytest.raises(DataError) as caught:
        build_spec(request(spec={"holdout_periods": 55}), "weekly", 60)
    assert caught.value.field == "spec.holdout_periods"


def test_variant_candidates_cover_the_grid_once_each() -> None:
    base = build_spec(request(), "weekly", 104)
    search = VariantSearchIn(
        adstocks=["geometric", "weibull"],
        saturations=["hill", "hill"],
        roas_prior_medians=[1.0, 3.0],
        holdout_periods=8,
    )
    candidates = search_candidates(base, search)
    assert len(candidates) == 4
    assert len({label for label, _ in candidates}) == 4
    assert {spec.holdout_periods for _, spec in candidates} == {8}


def test_fingerprint_ignores_the_dataset_id_but_not_content_or_request() -> None:
    a = request().model_dump(mode="json")
    b = {**a, "dataset_id": str(uuid.uuid4())}
    assert fingerprint("sha", a) == fingerprint("sha", b)
    assert fingerprint("sha", a) != fingerprint("other", a)
    assert fingerprint("sha", a) != fingerprint("sha", {**a, "kpi": "conversions"})


def test_request_validation_names_the_field() -> None:
    with pytest.raises(ValueError, match="model_type"):
        request(model_type="linear")
    with pytest.raises(ValueError, match="end must not be before start"):
        request(date_range={"start": "2024-02-01", "end": "2024-01-01"})
