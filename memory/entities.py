"""Rule- and dictionary-based entity extraction for stored memories.

It runs on every stored memory, so it is deliberately cheap: a handful of compiled regexes, no
model and nothing downloaded. Precision matters more than recall here, because a wrong entity
links unrelated memories in the graph.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

__all__ = ["ENTITY_KINDS", "Entity", "canonical_name", "extract_entities"]

ENTITY_KINDS = frozenset(
    {"channel", "metric", "date", "campaign", "product", "person", "place", "topic"}
)


@dataclass(frozen=True, slots=True)
class Entity:
    """`name` is the canonical lower-case key that links memories; `label` is for display."""

    name: str
    kind: str
    label: str


def canonical_name(text: str) -> str:
    """The key two spellings of one entity share ("  Summer  Sale " and "summer sale")."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(folded.split()).strip(" \t\"'\u201c\u201d\u2018\u2019.,;:!?()[]{}")


# canonical name -> (display label, aliases). Aliases are matched case-insensitively on word
# boundaries; the canonical name itself is always an alias.
_CHANNELS: dict[str, tuple[str, tuple[str, ...]]] = {
    "facebook": ("Facebook", ("fb", "meta", "meta ads", "facebook ads", "fb ads")),
    "instagram": ("Instagram", ("insta", "instagram ads")),
    "google ads": (
        "Google Ads",
        ("adwords", "google adwords", "google search", "paid search", "search ads", "sem"),
    ),
    "youtube": ("YouTube", ("youtube ads",)),
    "tiktok": ("TikTok", ("tik tok", "tiktok ads")),
    "email": ("Email", ("e-mail", "klaviyo", "mailchimp", "newsletter", "newsletters")),
    "tv": ("TV", ("television", "linear tv")),
    "connected tv": ("Connected TV", ("ctv", "ott")),
    "radio": ("Radio", ("audio ads",)),
    "display": ("Display", ("programmatic", "display ads", "banner ads")),
    "affiliate": ("Affiliate", ("affiliates", "affiliate marketing")),
    "podcast": ("Podcast", ("podcasts", "podcast ads")),
    "snapchat": ("Snapchat", ("snapchat ads",)),
    "pinterest": ("Pinterest", ("pinterest ads",)),
    "linkedin": ("LinkedIn", ("linkedin ads",)),
    "bing": ("Bing", ("bing ads", "microsoft ads", "microsoft advertising")),
    "twitter": ("Twitter", ("twitter ads", "x ads")),
    "reddit": ("Reddit", ("reddit ads",)),
    "amazon ads": ("Amazon Ads", ("amazon advertising", "sponsored products")),
    "sms": ("SMS", ("text message marketing",)),
    "direct mail": ("Direct Mail", ("mailers",)),
    "out of home": ("Out of Home", ("ooh", "out-of-home", "billboard", "billboards")),
    "seo": ("SEO", ("organic search",)),
    "influencer": ("Influencer", ("influencers", "influencer marketing")),
}

_METRICS: dict[str, tuple[str, tuple[str, ...]]] = {
    "roas": ("ROAS", ("return on ad spend",)),
    "mroas": ("mROAS", ("marginal roas",)),
    "roi": ("ROI", ("return on investment",)),
    "revenue": ("Revenue", ("sales", "gross revenue", "net revenue")),
    "conversions": ("Conversions", ("conversion", "conversion rate", "cvr")),
    "cpa": ("CPA", ("cost per acquisition", "cost per action")),
    "cac": ("CAC", ("customer acquisition cost",)),
    "ctr": ("CTR", ("click-through rate", "click through rate")),
    "cpc": ("CPC", ("cost per click",)),
    "cpm": ("CPM", ("cost per mille", "cost per thousand impressions")),
    "ltv": ("LTV", ("clv", "cltv", "lifetime value", "customer lifetime value")),
    "aov": ("AOV", ("average order value",)),
    "spend": ("Spend", ("ad spend", "media spend", "budget")),
    "impressions": ("Impressions", ("impression",)),
    "clicks": ("Clicks", ("click",)),
    "lift": ("Lift", ("incrementality", "incremental lift")),
    "profit": ("Profit", ("gross profit", "margin", "margins")),
    "churn": ("Churn", ("churn rate",)),
    "retention": ("Retention", ("retention rate",)),
}


def _alias_table(
    dictionary: Mapping[str, tuple[str, tuple[str, ...]]],
) -> tuple[re.Pattern[str], dict[str, str]]:
    alias_to_name = {
        canonical_name(alias): name for name, (_, al) in dictionary.items() for alias in al
    }
    alias_to_name.update({name: name for name in dictionary})
    # Longest first, so "google ads" wins over any shorter alias that is its prefix.
    alternation = "|".join(
        re.escape(alias).replace(r"\ ", r"\s+")
        for alias in sorted(alias_to_name, key=len, reverse=True)
    )
    return re.compile(rf"(?<![\w-])(?:{alternation})(?![\w-])", re.IGNORECASE), alias_to_name


_CHANNEL_RE, _CHANNEL_ALIASES = _alias_table(_CHANNELS)
_METRIC_RE, _METRIC_ALIASES = _alias_table(_METRICS)

_MONTHS = {
    "january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3, "april": 4, "apr": 4,
    "may": 5, "june": 6, "jun": 6, "july": 7, "jul": 7, "august": 8, "aug": 8, "september": 9,
    "sept": 9, "sep": 9, "october": 10, "oct": 10, "november": 11, "nov": 11, "december": 12,
    "dec": 12,
}  # fmt: skip
_MONTH = "(?:" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_DAY = r"(?:[0-3]?\d)(?:st|nd|rd|th)?"
_YEAR = r"(?:19|20)\d{2}"

_ISO_DATE_RE = re.compile(r"(?<![\d-])(\d{4})-(\d{2})-(\d{2})(?![\d-])")
_MONTH_DAY_YEAR_RE = re.compile(
    rf"\b(?P<month>{_MONTH})\s+(?P<day>{_DAY}),?\s+(?P<year>{_YEAR})\b", re.IGNORECASE
)
_DAY_MONTH_YEAR_RE = re.compile(
    rf"\b(?P<day>{_DAY})\s+(?:of\s+)?(?P<month>{_MONTH}),?\s+(?P<year>{_YEAR})\b", re.IGNORECASE
)
_MONTH_YEAR_RE = re.compile(rf"\b(?P<month>{_MONTH}),?\s+(?P<year>{_YEAR})\b", re.IGNORECASE)
_QUARTER_RE = re.compile(
    rf"\b(?:(?P<year1>{_YEAR})[\s-]?Q(?P<q1>[1-4])|Q(?P<q2>[1-4])[\s-]?(?P<year2>{_YEAR}))\b",
    re.IGNORECASE,
)

_QUOTED = r"[\"\u201c'\u2018](?P<quoted>[^\"\u201d'\u2019\n]{2,60})[\"\u201d'\u2019]"
_EXPLICIT_CAMPAIGN_RES = (
    re.compile(rf"\bcampaigns?\s+(?:named\s+|called\s+|titled\s+)?{_QUOTED}", re.IGNORECASE),
    re.compile(rf"{_QUOTED}\s+campaign\b", re.IGNORECASE),
    re.compile(r"\bcampaign[_ -]?id\s*[:=#]?\s*(?P<quoted>[\w-]+)", re.IGNORECASE),
)
# "Black Friday campaign": capitalised words right before the word campaign. Runs after the
# dictionaries so "Facebook campaign" stays a channel.
_NAMED_CAMPAIGN_RE = re.compile(
    r"\b(?P<quoted>(?:[A-Z][\w&'-]*\s+){0,3}[A-Z][\w&'-]*)\s+campaign\b"
)
_SKU_RES = (
    re.compile(r"\bSKU\s*[#:-]?\s*(?P<sku>[A-Z0-9][A-Z0-9-]{2,})\b", re.IGNORECASE),
    re.compile(r"\b(?P<sku>[A-Z]{2,5}-?\d{3,}(?:-[A-Z0-9]+)*)\b"),
)

_CAPITALISED_SPAN_RE = re.compile(
    r"\b[A-Z][a-z'\u2019]+(?:[ -](?:of |de |la |the )?[A-Z][a-z'\u2019]+)*\b"
)
# "to Melanie" and "from Caroline" are as common as "to Paris", so a lone capitalised word needs a
# stronger cue than a multi-word span does.
_PLACE_CUES = frozenset({"in", "near", "visited", "visiting", "around"})
_SPAN_PLACE_CUES = _PLACE_CUES | {"at", "to", "from"}
_PLACE_WORDS = frozenset(
    {
        "city", "town", "park", "street", "st", "avenue", "ave", "road", "lake", "river",
        "mountain", "mountains", "beach", "island", "islands", "museum", "university",
        "college", "school", "hospital", "church", "airport", "station", "bay", "valley",
        "county", "state", "kingdom", "republic", "states", "coast", "center", "centre",
        "mall", "library", "zoo"
    }
)  # fmt: skip
# Capitalised words that are not names: pronouns, function words, days, greetings and the like.
_STOPWORDS = frozenset(
    {
        "i", "i'm", "i've", "i'd", "i'll", "im", "a", "an", "the", "and", "or", "but", "if",
        "so", "as", "at", "by", "for", "from", "in", "into", "of", "on", "onto", "to",
        "with", "without", "about", "after", "before", "during", "over", "under", "up",
        "down", "out", "off", "again", "then", "than", "that", "this", "these", "those",
        "there", "here", "what", "which", "who", "whom", "whose", "when", "where", "why",
        "how", "all", "any", "both", "each", "few", "more", "most", "other", "some", "such",
        "no", "nor", "not", "only", "own", "same", "too", "very", "can", "will", "just",
        "should", "now", "is", "are", "was", "were", "be", "been", "being", "have", "has",
        "had", "do", "does", "did", "he", "she", "it", "we", "they", "you", "me", "him",
        "her", "us", "them", "my", "your", "his", "its", "our", "their", "mine", "yours",
        "hers", "ours", "theirs", "hey", "hi", "hello", "thanks", "thank", "yes", "yeah",
        "ok", "okay", "oh", "wow", "sure", "well", "also", "maybe", "please", "sorry",
        "great", "good", "nice", "cool", "awesome", "love", "monday", "tuesday",
        "wednesday", "thursday", "friday", "saturday", "sunday", "today", "tomorrow",
        "yesterday", "tonight", "mr", "mrs", "ms", "dr", "let", "let's", "lets", "it's",
        "that's", "what's", "there's", "here's", "don't", "didn't", "can't", "won't",
        "however", "although", "though", "because", "since", "while", "once", "anyway",
        "actually", "really", "definitely", "absolutely", "totally", "congrats",
        "congratulations", "happy", "merry", "dear", "regards", "cheers", "would", "could",
        "might", "must", "shall", "doesn't", "isn't", "wasn't", "hasn't",
        "haven't"
    }
)  # fmt: skip
# "Caroline's" names Caroline: the possessive would otherwise make a second, unlinked entity.
_POSSESSIVE_RE = re.compile(r"['\u2019]s$")


def _date_entity(year: int, month: int, day: int | None) -> Entity | None:
    if day is None:
        return Entity(name=f"{year:04d}-{month:02d}", kind="date", label=f"{year:04d}-{month:02d}")
    try:
        iso = date(year, month, day).isoformat()
    except ValueError:
        return None
    return Entity(name=iso, kind="date", label=iso)


def _month_number(token: str) -> int:
    return _MONTHS[token.rstrip(".").lower()]


def _day_number(token: str) -> int:
    return int(token.rstrip("stndrhSTNDRH"))


class _Collector:
    """Keeps first-seen order, drops duplicate names and remembers which text is claimed."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.entities: dict[str, Entity] = {}
        self.claimed: list[tuple[int, int]] = []

    def overlaps(self, start: int, end: int) -> bool:
        return any(
            start < taken_end and taken_start < end for taken_start, taken_end in self.claimed
        )

    def add(self, entity: Entity | None, span: tuple[int, int] | None = None) -> None:
        if span is not None:
            self.claimed.append(span)
        if entity is not None and entity.name and entity.name not in self.entities:
            self.entities[entity.name] = entity


def _metadata_values(value: object) -> Iterable[str]:
    if isinstance(value, str | int) and not isinstance(value, bool):
        yield str(value)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from _metadata_values(item)


_METADATA_KINDS = {
    "campaign": "campaign",
    "campaign_id": "campaign",
    "campaign_name": "campaign",
    "campaigns": "campaign",
    "product": "product",
    "product_id": "product",
    "products": "product",
    "sku": "product",
    "skus": "product",
    "channel": "channel",
    "channels": "channel",
    "speaker": "person",
    "speakers": "person",
}


def _from_metadata(metadata: Mapping[str, object], found: _Collector) -> None:
    explicit = metadata.get("entities")
    if isinstance(explicit, list | tuple):
        for item in explicit:
            if not isinstance(item, Mapping):
                continue
            name, kind = item.get("name"), item.get("kind")
            if isinstance(name, str) and isinstance(kind, str) and canonical_name(name):
                label = item.get("label")
                shown = label if isinstance(label, str) and label else name.strip()
                found.add(Entity(name=canonical_name(name), kind=kind.strip().lower(), label=shown))
    for key, kind in _METADATA_KINDS.items():
        for raw in _metadata_values(metadata.get(key)):
            name = canonical_name(raw)
            if kind == "channel" and name in _CHANNEL_ALIASES:
                name = _CHANNEL_ALIASES[name]
                found.add(Entity(name=name, kind=kind, label=_CHANNELS[name][0]))
            elif name:
                found.add(Entity(name=name, kind=kind, label=raw.strip()))


def _dates(text: str, found: _Collector) -> None:
    for match in _ISO_DATE_RE.finditer(text):
        found.add(_date_entity(*(int(group) for group in match.groups())), match.span())
    for pattern in (_MONTH_DAY_YEAR_RE, _DAY_MONTH_YEAR_RE):
        for match in pattern.finditer(text):
            if not found.overlaps(*match.span()):
                entity = _date_entity(
                    int(match["year"]), _month_number(match["month"]), _day_number(match["day"])
                )
                found.add(entity, match.span())
    for match in _MONTH_YEAR_RE.finditer(text):
        if not found.overlaps(*match.span()):
            entity = _date_entity(int(match["year"]), _month_number(match["month"]), None)
            found.add(entity, match.span())
    for match in _QUARTER_RE.finditer(text):
        if not found.overlaps(*match.span()):
            year, quarter = match["year1"] or match["year2"], match["q1"] or match["q2"]
            label = f"{year}-Q{quarter}"
            found.add(Entity(name=label.lower(), kind="date", label=label), match.span())


def _dictionary_terms(
    text: str,
    found: _Collector,
    pattern: re.Pattern[str],
    aliases: Mapping[str, str],
    dictionary: Mapping[str, tuple[str, tuple[str, ...]]],
    kind: str,
) -> None:
    for match in pattern.finditer(text):
        if found.overlaps(*match.span()):
            continue
        name = aliases[canonical_name(match.group())]
        found.add(Entity(name=name, kind=kind, label=dictionary[name][0]), match.span())


def _add_campaign(found: _Collector, match: re.Match[str]) -> None:
    words = match["quoted"].split()
    start = match.start("quoted")
    # "The Black Friday campaign" names "Black Friday".
    while words and words[0].lower() in _STOPWORDS:
        start = match.string.index(words[0], start) + len(words[0])
        words = words[1:]
    end = match.end("quoted")
    if words and not found.overlaps(start, end):
        label = " ".join(words)
        found.add(Entity(name=canonical_name(label), kind="campaign", label=label), (start, end))


def _explicit_campaigns_and_products(text: str, found: _Collector) -> None:
    for pattern in _EXPLICIT_CAMPAIGN_RES:
        for match in pattern.finditer(text):
            _add_campaign(found, match)
    for pattern in _SKU_RES:
        for match in pattern.finditer(text):
            if found.overlaps(*match.span("sku")):
                continue
            sku = match["sku"].upper()
            if match.group().upper().startswith("SKU") and not sku.startswith("SKU"):
                sku = f"SKU-{sku}"
            found.add(Entity(name=sku.lower(), kind="product", label=sku), match.span("sku"))


def _starts_sentence(text: str, start: int) -> bool:
    position = start
    while position > 0 and text[position - 1] in " \t\"\u201c\u2018'(":
        position -= 1
    return position == 0 or text[position - 1] in ".!?…:\n\r"


def _capitalised_spans(text: str, found: _Collector) -> None:
    for match in _CAPITALISED_SPAN_RE.finditer(text):
        words = match.group().split()
        start = match.start()
        # Drop leading stopwords and month names ("The Louvre", "May Caroline").
        while words and (words[0].lower() in _STOPWORDS or words[0].lower() in _MONTHS):
            start = text.index(words[1], start) if len(words) > 1 else match.end()
            words = words[1:]
        if not words:
            continue
        end = match.end()
        if found.overlaps(start, end):
            continue
        at_sentence_start = _starts_sentence(text, start)
        speaker_tag = text[end : end + 1] == ":"
        if at_sentence_start and not speaker_tag and len(words) == 1:
            continue
        label = _POSSESSIVE_RE.sub("", " ".join(words))
        preceding = text[max(0, start - 12) : start].split()[-1:]
        cue = preceding[0].lower() if preceding else ""
        if len(words) == 1:
            kind = "place" if cue in _PLACE_CUES else "person"
        else:
            place_cue = cue in _SPAN_PLACE_CUES or words[-1].lower() in _PLACE_WORDS
            kind = "place" if place_cue else "topic"
        found.add(Entity(name=canonical_name(label), kind=kind, label=label), (start, end))


def extract_entities(text: str, metadata: Mapping[str, object] | None = None) -> list[Entity]:
    """Entities in `text` and `metadata`, first-seen order, one per canonical name.

    Explicit metadata wins over what the text suggests, and the more specific text rules
    (dates, channel and metric dictionaries, campaigns, SKUs) claim their spans before the
    capitalised-word rule sees them, so "Facebook" is a channel and "May 2023" a date, never
    a person.
    """
    found = _Collector(text)
    if metadata:
        _from_metadata(metadata, found)
    _dates(text, found)
    _explicit_campaigns_and_products(text, found)
    _dictionary_terms(text, found, _CHANNEL_RE, _CHANNEL_ALIASES, _CHANNELS, "channel")
    _dictionary_terms(text, found, _METRIC_RE, _METRIC_ALIASES, _METRICS, "metric")
    for match in _NAMED_CAMPAIGN_RE.finditer(text):
        _add_campaign(found, match)
    _capitalised_spans(text, found)
    return list(found.entities.values())
