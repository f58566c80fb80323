"""Speed of the calendar dimension: median wall time of repeated builds for 1, 10 and 50 years.

Each build is the full public call (validation, two holiday look-ups, the polars plan, collect).
The first call in a process also imports the country's holiday rules; it is timed separately as
"first call" and kept out of the medians. Target (issue): 10 years of days, one country, ≤ 100 ms.

Run: ``.venv/bin/python bench/calendar_dimension.py`` (``--help`` for options). On a shared
machine the timings include other processes' load.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import date

from engine.calendar import calendar_controls, calendar_dimension

TARGET_MS_FOR_10_YEARS = 100.0
LAST_DAY = date(2025, 12, 31)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument("--country", default="US")
    parser.add_argument("--subdivision", default=None)
    args = parser.parse_args()

    started = time.perf_counter()
    calendar_dimension(LAST_DAY, LAST_DAY, country=args.country, subdivision=args.subdivision)
    print(f"first call (imports holiday rules): {1000 * (time.perf_counter() - started):.1f} ms")

    print(f"{'years':>5} {'days':>6} {'median ms':>10} {'min ms':>8} {'max ms':>8}")
    for years in (1, 10, 50):
        start = date(LAST_DAY.year - years + 1, 1, 1)
        timings = []
        for _ in range(args.repeats):
            started = time.perf_counter()
            frame = calendar_dimension(
                start, LAST_DAY, country=args.country, subdivision=args.subdivision
            )
            timings.append(1000 * (time.perf_counter() - started))
        median = statistics.median(timings)
        print(
            f"{years:>5} {frame.height:>6} {median:>10.1f} {min(timings):>8.1f} "
            f"{max(timings):>8.1f}"
            + (f"  (target ≤ {TARGET_MS_FOR_10_YEARS:.0f} ms)" if years == 10 else "")
        )

    mondays = calendar_dimension(date(2016, 1, 4), LAST_DAY).filter(day_of_week=0)["date"]
    timings = []
    for _ in range(args.repeats):
        started = time.perf_counter()
        calendar_controls(mondays.to_list(), "weekly", country=args.country)
        timings.append(1000 * (time.perf_counter() - started))
    print(f"calendar_controls, {mondays.len()} weeks: median {statistics.median(timings):.1f} ms")


if __name__ == "__main__":
    main()
