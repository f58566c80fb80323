"""The calendar dimension: daily temporal features, MMM calendar controls and export formats."""

from engine.calendar.controls import calendar_controls
from engine.calendar.dimension import CALENDAR_FIELDS, CalendarField, calendar_dimension
from engine.calendar.errors import CalendarError
from engine.calendar.formats import to_format

__all__ = [
    "CALENDAR_FIELDS",
    "CalendarError",
    "CalendarField",
    "calendar_controls",
    "calendar_dimension",
    "to_format",
]
