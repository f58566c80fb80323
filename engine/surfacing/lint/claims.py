"""Fabricated statistics, rankings and ratings (English patterns), checked against the
product's own reviews where it has them."""

from __future__ import annotations

import re
from dataclasses import dataclass

from engine.surfacing.checks._text import quote
from engine.surfacing.product import Reviews

_EXPERTS = (
    r"doctors|dentists|dermatologists|physicians|pediatricians|paediatricians|nurses|vets"
    r"|veterinarians|experts|scientists|chefs|stylists|trainers|professionals|pharmacists"
    r"|(?:interior\s+)?designers|architects|mechanics|engineers|teachers|coaches|athletes"
)
_CUSTOMERS = r"customers|users|buyers|shoppers|reviewers|owners|people|parents|moms|mums"
_CLAIM_VERB = (
    r"(?:recommend|prefer|choose|agree|love|trust|use|say|said|saw|see|noticed|reported|would|"
    r"rate|rated|felt)"
)
_N_OF_M = re.compile(
    rf"\b(\d{{1,2}})\s+(?:out\s+)?of\s+(?:every\s+)?(\d{{1,3}})\s+({_EXPERTS}|{_CUSTOMERS})\b"
    rf"(?:\s+\w+){{0,2}}?\s+{_CLAIM_VERB}",
    re.IGNORECASE,
)
_PERCENT_OF = re.compile(
    rf"\b(\d{{2,3}}(?:\.\d)?)\s?%\s+of\s+({_EXPERTS}|{_CUSTOMERS}|participants|testers|women|men)\b"
    rf"(?:\s+\w+){{0,2}}?\s+{_CLAIM_VERB}",
    re.IGNORECASE,
)
_RANK = re.compile(
    r"(?:#\s?1|\bno\.\s?1|\bnumber\s+one)\s+"
    r"(?:rated|selling|best[- ]?sell(?:er|ing)|recommended|choice"
    r"|brand|product)\b|\b(?:world|america|europe|uk|britain)'?s\s+(?:#\s?1|no\.\s?1|number\s+one)\b",
    re.IGNORECASE,
)
_RATED_BY = re.compile(
    r"\brated\s+(\d(?:\.\d)?)\s*(?:/\s*5|out\s+of\s+5)?\s*(?:stars?)?\s+by\s+(?:over\s+|more\s+than\s+)?"
    rf"([\d][\d,.]*)\s*(k)?\+?\s+(?:happy\s+|satisfied\s+)?(?:{_CUSTOMERS})",
    re.IGNORECASE,
)
_STARS_FROM = re.compile(
    r"\b(\d(?:\.\d)?)\s*(?:/\s*5|out\s+of\s+5)?\s*stars?\s+(?:from|across|based\s+on)\s+"
    r"(?:over\s+|more\s+than\s+)?([\d][\d,.]*)\s*(k)?\+?\s+(?:reviews|ratings|customers)",
    re.IGNORECASE,
)
_FIVE_STAR_COUNT = re.compile(
    r"\b(?:over\s+|more\s+than\s+)?([\d][\d,.]*)\s*(k)?\+?\s+"
    r"(?:five|5)[- ]star\s+(?:reviews|ratings)",
    re.IGNORECASE,
)


def _number(digits: str, thousands: str | None) -> float:
    value = (
        float(digits.replace(",", ""))
        if digits.replace(",", "").replace(".", "").isdigit()
        else 0.0
    )
    return value * 1000 if thousands else value


def _reviews_contradict(reviews: Reviews | None, count: float, rating: float | None) -> str | None:
    """How the product's own reviews contradict a claim, or None (also when it has none to
    compare: absent reviews are not evidence that a claim is false)."""
    if reviews is None or (reviews.count is None and reviews.rating is None):
        return None
    notes = []
    if reviews.count is not None and reviews.count < count / 2:
        notes.append(f"the product has {reviews.count} reviews")
    if rating is not None and reviews.rating is not None and reviews.rating < rating - 0.3:
        notes.append(f"its average rating is {reviews.rating:g}")
    return " and ".join(notes) or None


@dataclass(frozen=True)
class Claim:
    start: int
    end: int
    evidence: str


def fabricated_claims(text: str, reviews: Reviews | None) -> list[Claim]:
    """The statistics, rankings and ratings in ``text`` that nothing backs (English)."""
    found = [
        Claim(m.start(), m.end(), f"{quote(m.group(0))} ({what} with no source)")
        for pattern, what in (
            (_N_OF_M, "a survey statistic"),
            (_PERCENT_OF, "a survey statistic"),
            (_RANK, "a ranking"),
        )
        for m in pattern.finditer(text)
    ]
    for pattern in (_RATED_BY, _STARS_FROM):
        for m in pattern.finditer(text):
            why = _reviews_contradict(reviews, _number(m.group(2), m.group(3)), float(m.group(1)))
            if why:
                found.append(Claim(m.start(), m.end(), f"{quote(m.group(0))}, but {why}"))
    for m in _FIVE_STAR_COUNT.finditer(text):
        why = _reviews_contradict(reviews, _number(m.group(1), m.group(2)), None)
        if why:
            found.append(Claim(m.start(), m.end(), f"{quote(m.group(0))}, but {why}"))
    return sorted(found, key=lambda c: c.start)
