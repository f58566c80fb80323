"""Temporal analysis: the calendar dimension (61 daily features) and temporal EDA."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Literal

import polars as pl
from fastapi import APIRouter, Depends, Query, Request, Response

from cluster.repositories import causal as repo
from deployments.causal.datasets import data_error
from deployments.causal.schemas import CalendarSchema, CalendarTable, TemporalEdaRequest
from deployments.common.errors import ApiError
from deployments.common.principal import Principal
from deployments.common.security import public_or, require, runtime_of
from engine.auth.rbac import Permission
from engine.calendar import CALENDAR_FIELDS, CalendarError, calendar_dimension, to_format
from engine.calendar.eda import render_eda_charts, temporal_eda
from engine.calendar.eda_results import TemporalEDA
from engine.causal.data import DataError
from engine.causal.storage import from_parquet

router = APIRouter(tags=["causal: temporal EDA"])


_WEEKDAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
_CALENDAR_MEDIA = {
    "csv": "text/csv; charset=utf-8",
    "parquet": "application/vnd.apache.parquet",
    "arrow": "application/vnd.apache.arrow.stream",
}


def _parse_weekend(value: str) -> tuple[int, ...]:
    names = [part.strip().lower()[:3] for part in value.split(",") if part.strip()]
    unknown = [n for n in names if n not in _WEEKDAYS]
    if unknown:
        raise DataError(
            "weekend", f"unknown weekday {unknown[0]!r}; use e.g. 'sat,sun' or 'fri,sat'"
        )
    return tuple(sorted({_WEEKDAYS[n] for n in names}))


@router.get(
    "/eda/calendar-dimension",
    response_model=CalendarTable,
    responses={
        200: {
            "content": {
                "application/json": {},
                **{media: {} for media in _CALENDAR_MEDIA.values()},
            }
        }
    },
)
async def calendar_dimension_table(
    start_date: date,
    end_date: date,
    country: str = Query(default="US", min_length=2, max_length=3),
    subdivision: str | None = Query(default=None, min_length=1, max_length=10),
    fiscal_year_start_month: int = Query(default=1, ge=1, le=12),
    weekend: str = Query(default="sat,sun", max_length=40, description="e.g. 'fri,sat'"),
    format: Literal["json", "csv", "parquet", "arrow"] = "json",
    principal: Principal | None = Depends(public_or(Permission.CAUSAL_READ)),
) -> CalendarTable | Response:
    """One row per day with the 61 documented calendar features (docs/calendar.md).

    Public: the table holds no tenant data. Without credentials the call is rate-limited per
    client address; with a token or API key it counts against the caller's plan."""
    del principal  # the same table for every caller
    try:
        frame = await asyncio.to_thread(
            calendar_dimension,
            start_date,
            end_date,
            country=country,
            subdivision=subdivision,
            fiscal_year_start_month=fiscal_year_start_month,
            weekend=_parse_weekend(weekend),
        )
    except (CalendarError, DataError) as exc:
        field = {"start": "start_date", "end": "end_date"}.get(exc.field, exc.field)
        message = str(exc).replace(f"{exc.field}:", f"{field}:", 1)
        raise ApiError(422, "validation_error", message, field=field) from exc
    if format == "json":
        return CalendarTable(
            data=to_format(frame, "json"),
            schema=CalendarSchema(fields=list(CALENDAR_FIELDS)),
        )
    return Response(content=to_format(frame, format), media_type=_CALENDAR_MEDIA[format])


EDA_CHARTS = ("decomposition.png", "effects.png")


def _dataset_series(content: bytes, kpi: str) -> tuple[list[date], list[float]]:
    dataset = from_parquet(content)
    if kpi not in dataset.kpis:
        raise DataError("kpi", f"the dataset has no {kpi!r} column; it has {list(dataset.kpis)}")
    national = dataset.frame.group_by("date").agg(pl.col(kpi).sum()).sort("date")
    return national["date"].to_list(), national[kpi].to_list()


@router.post(
    "/eda/temporal",
    response_model=TemporalEDA,
    responses={200: {"content": {"application/json": {}, "image/png": {}}}},
)
async def temporal_analysis(
    body: TemporalEdaRequest,
    request: Request,
    chart: Literal["decomposition.png", "effects.png"] | None = Query(
        default=None, description="answer with this PNG instead of the JSON result"
    ),
    principal: Principal = Depends(require(Permission.CAUSAL_READ)),
) -> TemporalEDA | Response:
    """Which calendar effects move the KPI (with intervals and false-discovery-rate adjusted
    significance), its trend / weekly / yearly decomposition, and the ranked opportunities."""
    if body.dataset_id is not None:
        found = await repo.get_dataset_content(
            runtime_of(request).db, org_id=principal.org_id, dataset_id=body.dataset_id
        )
        if found is None:
            raise ApiError(404, "not_found", "dataset not found", field="dataset_id")
        try:
            dates, values = await asyncio.to_thread(_dataset_series, found[1], body.kpi)
        except DataError as exc:
            raise data_error(exc) from exc
    else:
        assert body.series is not None  # the request model insists on one source
        dates = [point.date for point in body.series]
        values = [point.value for point in body.series]
    try:
        result = await asyncio.to_thread(
            temporal_eda,
            dates,
            values,
            frequency=body.frequency,
            country=body.country,
            subdivision=body.subdivision,
            alpha=body.alpha,
            confidence=body.confidence,
        )
        if chart is not None:
            charts = await asyncio.to_thread(render_eda_charts, result)
            return Response(content=charts[chart], media_type="image/png")
    except CalendarError as exc:
        field = "series" if exc.field in ("dates", "kpi") and body.series is not None else exc.field
        raise ApiError(422, "invalid_data", str(exc), field=field) from exc
    return result
