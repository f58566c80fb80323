"""One analysis job, from stored dataset bytes to stored answers: no Ray, no HTTP, no database.

The Ray task in ``deployments.causal.tasks`` wraps this with storage and progress reporting;
tests call it directly. Variant search is passed in (Ray Tune in production) so that this module
stays runnable anywhere.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol

import numpy as np

from cluster.repositories.causal import Artifact
from deployments.causal.schemas import AnalyzeRequest, DateRangeIn, VariantSearchIn
from engine.calendar import CalendarError, calendar_controls
from engine.causal.analysis import Interval, analyze
from engine.causal.calibration import with_spend_slack
from engine.causal.canonical import CanonicalDataset
from engine.causal.data import DataError, GeoMMMData, MMMData, minimum_periods
from engine.causal.inference import FitConfig, FitResult, fit
from engine.causal.periods import LiftTestInput, parse_date_range
from engine.causal.persist import dump_posterior
from engine.causal.report import render_charts, render_html
from engine.causal.results import FittedData, ModelResult, VariantRow
from engine.causal.selection import ModelInput, to_geo_panel, to_model_input
from engine.causal.spec import DEFAULT_MAX_LAG, PERIODS_PER_YEAR, ModelSpec, RoasPrior
from engine.causal.storage import from_parquet
from engine.causal.window import WindowAnswer, window_answer

ProgressFn = Callable[[str, float], None]

# Periods per year, for the Fourier seasonality of each data frequency.
POSTERIOR_ARTIFACT = "posterior.npz"
REPORT_ARTIFACT = "report.html"


@dataclass(frozen=True)
class VariantScore:
    """One candidate of a variant search and how well it predicted the held-out periods."""

    label: str
    spec: ModelSpec
    holdout_mape: float
    max_rhat: float
    converged: bool


class VariantSearcher(Protocol):
    def __call__(
        self,
        data: MMMData | GeoMMMData,
        candidates: Sequence[tuple[str, ModelSpec]],
        config: FitConfig,
    ) -> list[VariantScore]: ...


@dataclass(frozen=True)
class AnalysisOutcome:
    spec: ModelSpec
    result: ModelResult
    artifacts: tuple[Artifact, ...]


@dataclass(frozen=True)
class PreparedInput:
    """What a fit consumes: the national model input (dates, attributions, national data) and,
    when the request asks for the geo hierarchy, the geo panel to fit instead."""

    national: ModelInput
    geo: GeoMMMData | None

    @property
    def data(self) -> MMMData | GeoMMMData:
        return self.geo if self.geo is not None else self.national.data


def resolve_range(value: str | DateRangeIn | None) -> tuple[date, date] | None:
    """A request's period (``"2024-Q1"`` or ``{"start", "end"}``) as inclusive dates."""
    if isinstance(value, DateRangeIn):
        return value.start, value.end
    if isinstance(value, str):
        return parse_date_range(value)
    return None


def _answer_window(request: AnalyzeRequest, fitted: tuple[date, ...]) -> tuple[date, date] | None:
    """The window the answers are about: ``date_range``, which must overlap the fitted periods
    (it may run past them: ``2024`` on data that ends in June means the periods there are)."""
    window = resolve_range(request.date_range)
    if window is None:
        return None
    start, end = window
    if not any(start <= d <= end for d in fitted):
        span = "the fitted periods" if request.fit_range is not None else "the data"
        raise DataError(
            "date_range",
            f"{start}..{end} holds no period of {span} ({fitted[0]}..{fitted[-1]}); the model is "
            "fitted on the whole history (or fit_range) and date_range picks the periods the "
            "answers are about",
        )
    return window


def model_input(dataset: CanonicalDataset, request: AnalyzeRequest) -> PreparedInput:
    """The request applied to the dataset; every problem is a DataError naming the field.

    The model is fitted on ``fit_range`` (default: the whole history); ``date_range`` only
    chooses which periods the answers are about (see :func:`prepare`)."""
    fit_range = resolve_range(request.fit_range)
    start, end = fit_range if fit_range is not None else (None, None)
    extra = None
    if request.calendar_controls:
        dates = _selected_dates(dataset, start, end)
        if not dates:
            raise DataError(
                "fit_range",
                f"{start}..{end} holds no periods; the data covers {dataset.start}..{dataset.end}",
            )
        try:
            extra = calendar_controls(
                dates, dataset.frequency, country=request.country, subdivision=request.subdivision
            )
        except CalendarError as exc:  # names country or subdivision
            raise DataError(exc.field, str(exc).removeprefix(f"{exc.field}: ")) from exc
    try:
        national = to_model_input(
            dataset,
            channels=request.channels,
            kpi=request.kpi,
            controls=request.controls,
            start=start,
            end=end,
            lift_tests=[
                LiftTestInput(
                    channel=t.channel,
                    start=t.start,
                    end=t.end,
                    incremental_kpi=t.incremental_kpi,
                    standard_error=t.standard_error,
                )
                for t in request.lift_tests
            ],
            extra_controls=extra,
        )
    except DataError as exc:
        # The selection names the range it filtered by "date_range"; here that is fit_range.
        if exc.field == "date_range":
            raise DataError("fit_range", str(exc).removeprefix("date_range: ")) from None
        raise
    if request.lift_test_spend_slack:
        national = dataclasses.replace(national, data=with_spend_slack(national.data))
    if not request.geo_hierarchy:
        return PreparedInput(national, None)
    panel = to_geo_panel(
        dataset,
        channels=national.data.channels,
        kpi=request.kpi,
        controls=request.controls,
        start=start,
        end=end,
    )
    controls, names = panel.controls, panel.control_names
    if extra is not None:
        # Calendar controls are the same in every geo.
        calendar = np.broadcast_to(extra[1], (len(panel.geos), *extra[1].shape))
        controls = np.concatenate([controls, calendar], axis=2)
        names = (*names, *extra[0])
    geo = GeoMMMData(
        geos=panel.geos,
        channels=panel.channels,
        spend=panel.spend,
        kpi=panel.kpi,
        controls=np.ascontiguousarray(controls),
        control_names=tuple(names),
        lift_tests=national.data.lift_tests,
    )
    if request.lift_test_spend_slack:
        geo = with_spend_slack(geo)
    return PreparedInput(national, geo)


def _selected_dates(dataset: CanonicalDataset, start: date | None, end: date | None) -> list[date]:
    dates = sorted(set(dataset.frame["date"].to_list()))
    return [d for d in dates if (start is None or d >= start) and (end is None or d <= end)]


def build_spec(request: AnalyzeRequest, frequency: str, periods: int) -> ModelSpec:
    options = request.spec
    holdout = options.holdout_periods
    if holdout > periods // 2:
        raise DataError(
            "spec.holdout_periods",
            f"{holdout} of {periods} periods held out; hold out at most half of them",
        )
    try:
        return ModelSpec(
            adstock=options.adstock,
            max_lag=options.max_lag or DEFAULT_MAX_LAG[frequency],
            saturation=options.saturation,
            roas_prior=RoasPrior(options.roas_prior.median, options.roas_prior.spread),
            channel_roas_priors={
                name: RoasPrior(p.median, p.spread)
                for name, p in options.channel_roas_priors.items()
            },
            trend=options.trend,
            seasonality_order=options.seasonality_order,
            seasonality_period=PERIODS_PER_YEAR[frequency],
            holdout_periods=holdout,
        )
    except ValueError as exc:
        raise DataError("spec", str(exc)) from exc


@dataclass(frozen=True)
class PreparedAnalysis:
    """A request checked against its dataset: the input, the spec and the answer window."""

    input: PreparedInput
    spec: ModelSpec
    window: tuple[date, date] | None  # the periods the answers are about; None: the fit window


def prepare(content: bytes, request: AnalyzeRequest) -> PreparedAnalysis:
    """The stored dataset and the request turned into what a fit takes; the API runs this
    before queueing a job, so a request that cannot fit is a 422, not a failed job."""
    prepared = model_input(from_parquet(content), request)
    national = prepared.national
    spec = build_spec(request, national.frequency, national.data.periods)
    for channel in spec.channel_roas_priors:
        if channel not in national.data.channels:
            raise DataError("spec.channel_roas_priors", f"unknown channel {channel!r}")
    if request.search is not None:
        data = prepared.data
        needed = minimum_periods(len(data.channels), len(data.control_names))
        if national.data.periods - request.search.holdout_periods < needed:
            raise DataError(
                "search.holdout_periods",
                f"holding out {request.search.holdout_periods} of {national.data.periods} "
                f"periods leaves fewer than the {needed} a fit of {len(data.channels)} channels "
                f"and {len(data.control_names)} controls needs; use a shorter holdout",
            )
    window = _answer_window(request, national.dates)
    return PreparedAnalysis(prepared, spec, window)


def search_candidates(base: ModelSpec, search: VariantSearchIn) -> list[tuple[str, ModelSpec]]:
    return [
        (
            f"{adstock}+{saturation}, ROAS prior {median:g}",
            dataclasses.replace(
                base,
                adstock=adstock,
                saturation=saturation,
                roas_prior=RoasPrior(median, base.roas_prior.spread),
                holdout_periods=search.holdout_periods,
            ),
        )
        for adstock in dict.fromkeys(search.adstocks)
        for saturation in dict.fromkeys(search.saturations)
        for median in dict.fromkeys(search.roas_prior_medians)
    ]


def run_analysis(
    content: bytes,
    request: AnalyzeRequest,
    *,
    progress: ProgressFn,
    searcher: VariantSearcher | None = None,
    title: str = "Marketing-mix model",
    parallel_chains: int | None = None,
) -> AnalysisOutcome:
    progress("preparing", 0.01)
    prepared = prepare(content, request)
    national = prepared.input.national
    data = prepared.input.data
    spec = prepared.spec
    config = FitConfig(
        chains=request.fit.chains,
        warmup=request.fit.warmup,
        samples=request.fit.samples,
        seed=request.fit.seed,
        target_accept=request.fit.target_accept,
        parallel_chains=parallel_chains,
    )

    variants: tuple[VariantRow, ...] | None = None
    fit_start = 0.05
    if request.search is not None:
        if searcher is None:
            raise RuntimeError("variant search requested but no searcher is configured")
        progress("comparing variants", 0.05)
        spec, variants = _search(searcher, data, spec, request)
        fit_start = 0.45

    def fit_progress(stage: str, fraction: float) -> None:
        progress(stage, fit_start + (0.9 - fit_start) * fraction)

    result = fit(data, spec, config, progress=fit_progress)
    progress("summarising", 0.9)
    analysis = analyze(result, data, dates=national.dates, attributed=national.attributed)
    window = (
        None
        if prepared.window is None
        else window_answer(
            result, data, dates=national.dates, start=prepared.window[0], end=prepared.window[1]
        )
    )
    charts = render_charts(analysis)
    report = render_html(analysis, title=title, charts=charts)
    progress("storing", 0.97)
    answers = ModelResult(
        incremental_roas=headline_roas(result, window),
        diagnostics=result.diagnostics,
        data=FittedData(
            kpi=national.kpi,
            frequency=national.frequency,
            start=national.dates[0],
            end=national.dates[-1],
            periods=national.data.periods,
            geos=prepared.input.geo.geos if prepared.input.geo is not None else (),
            fit_periods=result.fit_periods,
            channels=data.channels,
            controls=data.control_names,
            lift_tests=len(data.lift_tests),
        ),
        geo_roas=result.geo_roas,
        analysis=analysis,
        variant_search=variants,
        window=window,
    )
    artifacts = [Artifact(name, "image/png", png) for name, png in charts.items()]
    artifacts.append(Artifact(REPORT_ARTIFACT, "text/html; charset=utf-8", report.encode()))
    artifacts.append(Artifact(POSTERIOR_ARTIFACT, "application/x-npz", dump_posterior(result)))
    return AnalysisOutcome(spec=spec, result=answers, artifacts=tuple(artifacts))


def headline_roas(result: FitResult, window: WindowAnswer | None) -> dict[str, Interval]:
    """Each channel's ROAS over the window asked about, else over the fit window."""
    if window is None:
        return {
            r.channel: Interval(mean=r.mean, median=r.median, lower=r.lower, upper=r.upper)
            for r in result.roas
        }
    # A channel with no spend in the window has no return to report there.
    return {c.channel: c.roas for c in window.channels if c.roas is not None}


def _search(
    searcher: VariantSearcher,
    data: MMMData | GeoMMMData,
    spec: ModelSpec,
    request: AnalyzeRequest,
) -> tuple[ModelSpec, tuple[VariantRow, ...]]:
    """The variants compared, the best (converged first, then by holdout error) kept."""
    assert request.search is not None
    scores = searcher(
        data,
        search_candidates(spec, request.search),
        FitConfig(
            chains=request.search.chains,
            warmup=request.search.warmup,
            samples=request.search.samples,
            seed=request.fit.seed,
            target_accept=request.fit.target_accept,
        ),
    )
    ranked = sorted(scores, key=lambda s: (not s.converged, _finite(s.holdout_mape)))
    best = dataclasses.replace(ranked[0].spec, holdout_periods=spec.holdout_periods)
    table = tuple(
        VariantRow(
            variant=s.label,
            holdout_mape=_finite_or_none(s.holdout_mape),
            max_rhat=_finite_or_none(s.max_rhat),
            converged=s.converged,
            chosen=s is ranked[0],
        )
        for s in scores
    )
    return best, table


def _finite(value: float) -> float:
    return value if math.isfinite(value) else math.inf


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None
