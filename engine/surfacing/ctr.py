"""Share of clicks by rank: a published position-CTR curve.

Sistrix (2020), "Why (almost) everything you knew about Google CTR is no longer valid", a
study of over 80 million keywords and billions of Google results: position 1 gets 28.5 % of
clicks on average, 2 15.7 %, 3 11.0 %, 10 2.5 %, and results beyond the first page got
"significantly less than one percent" each, so ranks beyond 10 count as 0. Those figures,
and "position 2 gets at least three times the clicks of position 6" (15.7 / 5.1 here), were
checked against the study's summary as republished (e.g. YouGov, 15 July 2020). Positions
4-9 (8.0, 7.2, 5.1, 4.0, 3.2, 2.8 %) are the study's chart values as quoted with it; they
could not be checked against a text here. The study
measured web search, not AI answers; it is used as the best published shape of attention by
position, and every gain is reported with the rank change it comes from so it can be re-priced
with another curve.
"""

from __future__ import annotations

SOURCE = (
    "Sistrix (2020), Why (almost) everything you knew about Google CTR is no longer valid, "
    "https://www.sistrix.com/blog/why-almost-everything-you-knew-about-google-ctr-is-no-longer-valid/"
)
CLICK_SHARE: tuple[float, ...] = (
    0.285,
    0.157,
    0.110,
    0.080,
    0.072,
    0.051,
    0.040,
    0.032,
    0.028,
    0.025,
)


def click_share(rank: int | None) -> float:
    """The share of a query's clicks at 1-based ``rank`` (0 beyond 10 or without a rank)."""
    if rank is None or rank < 1 or rank > len(CLICK_SHARE):
        return 0.0
    return CLICK_SHARE[rank - 1]
