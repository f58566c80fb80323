"""The calendar package's error: a bad request or series, naming the parameter at fault.

The calendar knows nothing of the causal module, so it has its own error type; callers that
speak DataError (the MMM pipeline, the API) translate it, keeping ``field`` and the message.
"""

from __future__ import annotations


class CalendarError(ValueError):
    """A bad calendar request; ``field`` names the parameter (``end``, ``country``, ...)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
