"""Temporal analysis: the calendar dimension (61 daily features) and temporal EDA."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Response

from deployments.common.errors import ApiError
from deployments.common.principal import Principal
from deployments.common.security import require
from engine.auth.rbac import Permission
from engine.calendar import CALENDAR_FIELDS, calendar_dimension, to_format
from engine.causal.data import DataError

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
    principal: Principal = Depends(require(Permission.CAUSAL_READ)),
) -> Any:
    """One row per day with the 61 documented calendar features (docs/calendar.md)."""
    del principal  # the table is the same for every tenant; reading it still needs a caller
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
    except DataError as exc:
        field = {"start": "start_date", "end": "end_date"}.get(exc.field, exc.field)
        message = str(exc).replace(f"{exc.field}:", f"{field}:", 1)
        raise ApiError(422, "validation_error", message, field=field) from exc
    if format == "json":
        return {
            "data": to_format(frame, "json"),
            "schema": {
                "fields": [
                    {"name": f.name, "type": f.type, "description": f.description}
                    for f in CALENDAR_FIELDS
                ]
            },
        }
    return Response(content=to_format(frame, format), media_type=_CALENDAR_MEDIA[format])
