"""The published text limits of the platforms generated copy is written for, and the check of a
model's output against them.

A model is asked for a JSON object whose keys are the platform's field names (a list of strings
for a multi-item field such as Google Ads headlines, a string for a scalar one);
``format_instructions`` is the English text that asks for it, ``parse_content`` reads the answer
back tolerantly, ``check_content`` lists what breaks the platform's rules and
``repair_instruction`` asks for one constrained retry.

Lengths are counted the way the platforms count them, approximately: code points, without
combining marks and invisible joiners, with full-width (CJK) characters counting 2 where the
platform says so (Google Ads, TikTok). A *hard* limit is one the platform enforces by rejecting
the text; a *soft* one is a recommendation past which the text is truncated on screen.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

__all__ = [
    "Content",
    "ContentFormatError",
    "FieldRule",
    "Platform",
    "PlatformSpec",
    "Violation",
    "check_content",
    "display_length",
    "format_instructions",
    "parse_content",
    "parse_platform",
    "render_content",
    "repair_instruction",
    "spec_for",
]


class Platform(StrEnum):
    GOOGLE_ADS = "google_ads"  # responsive search ads
    META = "meta"  # Facebook and Instagram ads
    TIKTOK = "tiktok"
    EMAIL = "email"
    SEO = "seo"  # page title and meta description
    GENERIC = "generic"  # free text, no limits


_ALIASES: Mapping[str, Platform] = MappingProxyType(
    {
        "facebook_ads": Platform.META,
        "facebook": Platform.META,
        "instagram": Platform.META,
        "meta_ads": Platform.META,
        "tiktok_ads": Platform.TIKTOK,
        "seo_meta": Platform.SEO,
    }
)


def _accepted_names() -> str:
    parts = []
    for platform in Platform:
        aliases = [alias for alias, target in _ALIASES.items() if target is platform]
        parts.append(f"{platform.value} ({', '.join(aliases)})" if aliases else platform.value)
    return ", ".join(parts)


def parse_platform(name: str) -> Platform:
    """The platform ``name`` names: its value or an alias, in any case; spaces and hyphens read
    as underscores ("Google Ads", "google-ads")."""
    key = re.sub(r"[\s-]+", "_", name.strip().casefold())
    try:
        return Platform(key)
    except ValueError:
        pass
    if key in _ALIASES:
        return _ALIASES[key]
    raise ValueError(f"unknown platform {name!r}; accepted: {_accepted_names()}")


@dataclass(frozen=True)
class FieldRule:
    name: str  # the JSON key, e.g. "headlines"
    max_chars: int | None  # None: no length limit
    min_items: int  # 1 for scalar fields
    max_items: int  # 1 for scalar fields
    hard: bool  # True: the platform rejects longer text; False: a recommended length
    wide_chars_count_double: bool  # full-width (CJK) characters count as 2
    description: str  # what the field is, for the prompt
    exclamation_allowed: bool = True

    @property
    def is_list(self) -> bool:
        return self.max_items > 1


@dataclass(frozen=True)
class PlatformSpec:
    platform: Platform
    fields: tuple[FieldRule, ...]
    source: str  # URL of the published rule
    notes: tuple[str, ...]  # further rules the prompt states
    label: str = ""  # the platform's name in messages ("Google Ads")
    # Google Ads' editorial policy (capitals, repeated punctuation), checked on every field.
    editorial_checks: bool = False
    editorial_source: str = ""

    @property
    def display_name(self) -> str:
        return self.label or self.platform.value

    def field(self, name: str) -> FieldRule:
        for rule in self.fields:
            if rule.name == name:
                return rule
        raise KeyError(name)


_GOOGLE_ADS = PlatformSpec(
    platform=Platform.GOOGLE_ADS,
    label="Google Ads",
    fields=(
        FieldRule(
            name="headlines",
            max_chars=30,
            min_items=3,
            max_items=15,
            hard=True,
            wide_chars_count_double=True,
            description="the headlines of a responsive search ad",
            exclamation_allowed=False,
        ),
        FieldRule(
            name="descriptions",
            max_chars=90,
            min_items=2,
            max_items=4,
            hard=True,
            wide_chars_count_double=True,
            description="the descriptions of a responsive search ad",
        ),
    ),
    source="https://support.google.com/google-ads/answer/7684791",
    notes=(
        "Google combines headlines and descriptions in any order, so each one must make sense "
        "on its own and none may repeat another.",
        "Do not use an exclamation mark in a headline.",
        "Do not write words in ALL CAPS (acronyms and brand names as they are spelled are fine).",
        "Do not repeat punctuation or symbols, such as '!!' or '??'.",
    ),
    editorial_checks=True,
    editorial_source="https://support.google.com/adspolicy/answer/6021546",
)

_META = PlatformSpec(
    platform=Platform.META,
    label="Meta",
    fields=(
        FieldRule(
            name="primary_text",
            max_chars=125,
            min_items=1,
            max_items=1,
            hard=False,
            wide_chars_count_double=False,
            description="the primary text shown above the image or video",
        ),
        FieldRule(
            name="headline",
            max_chars=40,
            min_items=1,
            max_items=1,
            hard=False,
            wide_chars_count_double=False,
            description="the headline shown below the image or video (27 to 40 characters "
            "reads best)",
        ),
        FieldRule(
            name="description",
            max_chars=30,
            min_items=1,
            max_items=1,
            hard=False,
            wide_chars_count_double=False,
            description="the short description shown below the headline",
        ),
    ),
    source="https://www.facebook.com/business/ads-guide",
    notes=("Text past the recommended length is cut off on many placements.",),
)

_TIKTOK = PlatformSpec(
    platform=Platform.TIKTOK,
    label="TikTok",
    fields=(
        FieldRule(
            name="ad_text",
            max_chars=100,
            min_items=1,
            max_items=1,
            hard=True,
            wide_chars_count_double=True,
            description="the ad text (caption) shown with the video",
        ),
    ),
    source="https://ads.tiktok.com/help/article/tiktok-ads-creative-specs",
    notes=(
        "Avoid emoji: some placements remove them.",
        "The video carries the message; keep the text short and put the key point first.",
    ),
)

_EMAIL = PlatformSpec(
    platform=Platform.EMAIL,
    label="Email",
    fields=(
        FieldRule(
            name="subject",
            max_chars=60,
            min_items=1,
            max_items=1,
            hard=False,
            wide_chars_count_double=False,
            description="the subject line",
        ),
        FieldRule(
            name="preheader",
            max_chars=100,
            min_items=1,
            max_items=1,
            hard=False,
            wide_chars_count_double=False,
            description="the preview text shown after the subject in the inbox",
        ),
        FieldRule(
            name="body",
            max_chars=None,
            min_items=1,
            max_items=1,
            hard=False,
            wide_chars_count_double=False,
            description="the plain-text body, paragraphs separated by blank lines",
        ),
    ),
    source="https://mailchimp.com/help/best-practices-for-email-subject-lines/",
    notes=(
        "Mobile mail apps show only about the first 40 characters of the subject, so put the "
        "key words first.",
        "The preheader must add to the subject, not repeat it.",
    ),
)

_SEO = PlatformSpec(
    platform=Platform.SEO,
    label="SEO",
    fields=(
        FieldRule(
            name="title",
            max_chars=60,
            min_items=1,
            max_items=1,
            hard=False,
            wide_chars_count_double=False,
            description="the page title (the <title> element)",
        ),
        FieldRule(
            name="meta_description",
            max_chars=160,
            min_items=1,
            max_items=1,
            hard=False,
            wide_chars_count_double=False,
            description="the meta description, a summary of the page for search results",
        ),
    ),
    source="https://developers.google.com/search/docs/appearance/snippet",
    notes=(
        "Google truncates titles and snippets by pixel width; the character counts are the "
        "usual approximation.",
        "Describe the page accurately; do not stuff keywords.",
    ),
)

_GENERIC = PlatformSpec(
    platform=Platform.GENERIC,
    label="Generic",
    fields=(
        FieldRule(
            name="text",
            max_chars=None,
            min_items=1,
            max_items=1,
            hard=False,
            wide_chars_count_double=False,
            description="the text",
        ),
    ),
    source="",
    notes=(),
)

_SPECS: Mapping[Platform, PlatformSpec] = MappingProxyType(
    {spec.platform: spec for spec in (_GOOGLE_ADS, _META, _TIKTOK, _EMAIL, _SEO, _GENERIC)}
)


def spec_for(platform: Platform) -> PlatformSpec:
    return _SPECS[platform]


# --- lengths -------------------------------------------------------------------------------

_ZERO_WIDTH = frozenset({"\u200b", "\u200c", "\u200d", "\u2060", "\ufeff"})


def _is_invisible(char: str) -> bool:
    # Variation selectors only choose a glyph's presentation (text or emoji); they add nothing
    # a reader sees, so "❤️" counts as one character like "❤".
    code = ord(char)
    return (
        unicodedata.combining(char) != 0
        or char in _ZERO_WIDTH
        or 0xFE00 <= code <= 0xFE0F
        or 0x1F3FB <= code <= 0x1F3FF  # skin-tone modifiers join the emoji before them
        or 0xE0100 <= code <= 0xE01EF
    )


def _is_wide(char: str) -> bool:
    return unicodedata.east_asian_width(char) in ("W", "F")


def display_length(text: str, *, wide_double: bool) -> int:
    """Characters as a reader counts them: code points, less combining marks and zero-width
    characters; a wide or full-width character counts 2 when ``wide_double``."""
    # NFC first so that "e" + U+0301 and the precomposed "é" agree even where a mark has no
    # precomposed form (those still drop out as combining).
    total = 0
    for char in unicodedata.normalize("NFC", text):
        if _is_invisible(char):
            continue
        total += 2 if wide_double and _is_wide(char) else 1
    return total


# --- content -------------------------------------------------------------------------------


class ContentFormatError(ValueError):
    """A model's answer is not the JSON object the platform's format asks for."""


@dataclass(frozen=True)
class Content:
    """Every field as a tuple of strings (a scalar field has one item), in spec order."""

    fields: Mapping[str, tuple[str, ...]]

    def __post_init__(self) -> None:
        frozen = {name: tuple(items) for name, items in self.fields.items()}
        object.__setattr__(self, "fields", MappingProxyType(frozen))

    def __hash__(self) -> int:
        return hash(tuple(self.fields.items()))


_FENCE = re.compile(r"```[A-Za-z0-9_-]*[ \t]*\n?(.*?)```", re.DOTALL)


def _strip_fences(text: str) -> str:
    match = _FENCE.search(text)
    return match.group(1) if match else text


def _first_object(text: str) -> dict[str, object] | None:
    decoder = json.JSONDecoder()
    start = text.find("{")
    while start != -1:
        try:
            value, _ = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            pass
        else:
            if isinstance(value, dict):
                return value
        start = text.find("{", start + 1)
    return None


def _items(rule: FieldRule, value: object) -> tuple[str, ...]:
    # A lone string for a list field, or a one-item list for a scalar one, is read as meant;
    # check_content then reports a wrong item count instead of the parse failing.
    raw: list[object] = list(value) if isinstance(value, list) else [value]
    items: list[str] = []
    for index, item in enumerate(raw):
        if not isinstance(item, str):
            where = f"{rule.name}[{index}]" if isinstance(value, list) else rule.name
            raise ContentFormatError(
                f"{where} must be a string, got {type(item).__name__} ({json.dumps(item)})"
            )
        items.append(item.strip())
    return tuple(items)


def _expected_keys(spec: PlatformSpec) -> str:
    return ", ".join(f'"{rule.name}"' for rule in spec.fields)


def parse_content(platform: Platform, text: str) -> Content:
    """The fields of a model's answer. Tolerant of Markdown fences and of prose around the JSON
    object (the first object in the text is taken); keys the platform does not have are
    dropped. GENERIC takes the whole text, and so does a platform whose only field is a scalar
    when the answer holds no JSON object at all."""
    spec = spec_for(platform)
    body = _strip_fences(text).strip()
    if platform is Platform.GENERIC:
        return Content({"text": (_generic_text(body),)})
    data = _first_object(body)
    if data is None:
        only = spec.fields[0]
        if len(spec.fields) == 1 and not only.is_list and body and not body.startswith(("{", "[")):
            return Content({only.name: (body,)})
        shown = text.strip()[:80]
        raise ContentFormatError(
            f"the answer for {spec.display_name} is not a JSON object with the keys "
            f"{_expected_keys(spec)}: {shown!r}"
        )
    fields: dict[str, tuple[str, ...]] = {}
    missing: list[str] = []
    for rule in spec.fields:
        if rule.name not in data or data[rule.name] is None:
            missing.append(rule.name)
            continue
        fields[rule.name] = _items(rule, data[rule.name])
    if missing:
        names = ", ".join(f'"{name}"' for name in missing)
        raise ContentFormatError(
            f"the answer for {spec.display_name} lacks the field{'s' if len(missing) > 1 else ''}"
            f" {names}; it must have the keys {_expected_keys(spec)}"
        )
    return Content(fields)


def _generic_text(body: str) -> str:
    # render_content writes GENERIC as {"text": ...}; reading that back gives the text, not JSON.
    if body.startswith("{"):
        try:
            value = json.loads(body)
        except json.JSONDecodeError:
            return body
        if isinstance(value, dict) and set(value) == {"text"} and isinstance(value["text"], str):
            return value["text"].strip()
    return body


def render_content(content: Content, *, platform: Platform | None = None) -> str:
    """The canonical JSON text of ``content``. With ``platform``, scalar fields are strings and
    multi-item fields lists, whatever their item count; without it, one item is a string."""
    rules = {rule.name: rule for rule in spec_for(platform).fields} if platform else {}
    data: dict[str, str | list[str]] = {}
    for name, items in content.fields.items():
        rule = rules.get(name)
        as_list = rule.is_list if rule is not None else len(items) != 1
        data[name] = list(items) if as_list or len(items) != 1 else items[0]
    return json.dumps(data, ensure_ascii=False, indent=2)


# --- checks --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Violation:
    field: str
    index: int | None  # the item's index in a list field
    rule: str  # see RULES
    limit: int | None
    actual: int | None
    hard: bool
    message: str

    @property
    def location(self) -> str:
        return self.field if self.index is None else f"{self.field}[{self.index}]"


RULES = (
    "max_chars",
    "min_items",
    "max_items",
    "exclamation_in_headline",
    "all_caps",
    "repeated_punctuation",
    "empty",
)

_EXCLAMATION = re.compile("[!\uff01\u00a1]")  # "!", its full-width form, Spanish "¡"
# A run of two or more of ! and ? (also "?!"), or of one other mark or symbol. "/" is left out
# for the "//" of a URL, and an ellipsis of exactly three dots is allowed.
_REPEATED = re.compile(r"[!?\uff01\uff1f]{2,}|([.,;:*~#@$%&+=_|^<>-])\1+")
_WORD = re.compile(r"[^\W\d_]+(?:['\u2019-][^\W\d_]+)*")
_MIN_CAPS_LETTERS = 4  # shorter all-caps words are mostly acronyms ("USA", "PDF", "TV")


def _caps_words(text: str, allowed: frozenset[str]) -> list[str]:
    found = []
    for match in _WORD.finditer(text):
        word = match.group(0)
        letters = sum(1 for char in word if char.isalpha())
        if letters >= _MIN_CAPS_LETTERS and word.isupper() and word.casefold() not in allowed:
            found.append(word)
    return found


def _length_message(spec: PlatformSpec, rule: FieldRule, where: str, actual: int, text: str) -> str:
    wide = rule.wide_chars_count_double and any(_is_wide(char) for char in text)
    counted = " (full-width characters count as 2)" if wide else ""
    limit = rule.max_chars
    if rule.hard:
        return f"{where} is {actual} characters{counted}; {spec.display_name} allows {limit}"
    return (
        f"{where} is {actual} characters{counted}; {spec.display_name} recommends at most "
        f"{limit} (longer text is cut off)"
    )


def _check_item(
    spec: PlatformSpec,
    rule: FieldRule,
    index: int | None,
    text: str,
    allowed_caps: frozenset[str],
) -> list[Violation]:
    where = rule.name if index is None else f"{rule.name}[{index}]"
    if not text.strip():
        return [Violation(rule.name, index, "empty", None, 0, True, f"{where} is empty")]
    found: list[Violation] = []
    if rule.max_chars is not None:
        length = display_length(text, wide_double=rule.wide_chars_count_double)
        if length > rule.max_chars:
            message = _length_message(spec, rule, where, length, text)
            found.append(
                Violation(rule.name, index, "max_chars", rule.max_chars, length, rule.hard, message)
            )
    if not rule.exclamation_allowed:
        marks = len(_EXCLAMATION.findall(text))
        if marks:
            message = (
                f"{where} has an exclamation mark; {spec.display_name} does not allow one in "
                "a headline"
            )
            found.append(
                Violation(rule.name, index, "exclamation_in_headline", 0, marks, True, message)
            )
    if spec.editorial_checks:
        words = _caps_words(text, allowed_caps)
        if words:
            shown = ", ".join(f'"{word}"' for word in words)
            message = (
                f"{where} has {'a word' if len(words) == 1 else 'words'} in capitals ({shown}); "
                f"{spec.display_name} does not allow excessive capitalisation"
            )
            found.append(Violation(rule.name, index, "all_caps", 0, len(words), True, message))
        runs = [run for run in (m.group(0) for m in _REPEATED.finditer(text)) if run != "..."]
        if runs:
            shown = ", ".join(f'"{run}"' for run in runs)
            message = (
                f"{where} repeats punctuation ({shown}); {spec.display_name} does not allow "
                "repeated punctuation or symbols"
            )
            found.append(
                Violation(rule.name, index, "repeated_punctuation", 0, len(runs), True, message)
            )
    return found


def check_content(
    platform: Platform, content: Content, *, allowed_caps: Collection[str] = ()
) -> tuple[Violation, ...]:
    """Everything in ``content`` that breaks the platform's published rules, in field order.
    ``allowed_caps`` names words that are spelled in capitals (brand names, acronyms) and so
    are not excessive capitalisation. GENERIC has no rules."""
    spec = spec_for(platform)
    if platform is Platform.GENERIC:
        return ()
    allowed = frozenset(word.casefold() for word in allowed_caps)
    found: list[Violation] = []
    for rule in spec.fields:
        items = content.fields.get(rule.name, ())
        count = len(items)
        noun = "item" if rule.is_list else "value"
        if count < rule.min_items:
            message = (
                f"{rule.name} has {count} {noun}{'' if count == 1 else 's'}; "
                f"{spec.display_name} needs at least {rule.min_items}"
            )
            found.append(
                Violation(rule.name, None, "min_items", rule.min_items, count, True, message)
            )
        elif count > rule.max_items:
            message = (
                f"{rule.name} has {count} {noun}s; {spec.display_name} allows at most "
                f"{rule.max_items}"
            )
            found.append(
                Violation(rule.name, None, "max_items", rule.max_items, count, True, message)
            )
        for position, text in enumerate(items):
            index = position if rule.is_list else None
            found.extend(_check_item(spec, rule, index, text, allowed))
    return tuple(found)


# --- prompt text ---------------------------------------------------------------------------


def _field_line(rule: FieldRule) -> str:
    if rule.is_list:
        if rule.min_items == rule.max_items:
            count = f"a list of exactly {rule.min_items} strings"
        else:
            count = f"a list of {rule.min_items} to {rule.max_items} strings"
        each = "each "
    else:
        count = "a string"
        each = ""
    if rule.max_chars is None:
        limit = ""
    elif rule.hard:
        limit = f", {each}at most {rule.max_chars} characters (a hard limit)"
    else:
        limit = f", {each}at most {rule.max_chars} characters recommended"
    if rule.max_chars is not None and rule.wide_chars_count_double:
        limit += "; Chinese, Japanese and Korean full-width characters count as 2"
    return f'- "{rule.name}": {rule.description}; {count}{limit}.'


def format_instructions(platform: Platform) -> str:
    """The English instruction appended to a prompt: the JSON shape the answer must have, each
    field's limit and item count, and the platform's further rules."""
    spec = spec_for(platform)
    if platform is Platform.GENERIC:
        return "Return only the requested text, with no preamble, commentary or Markdown fences."
    lines = [
        f"Format for {spec.display_name}: return only a JSON object, with no text before or "
        "after it and no Markdown fences, with exactly these keys:",
        *(_field_line(rule) for rule in spec.fields),
    ]
    if spec.notes:
        lines.append("Rules:")
        lines.extend(f"- {note}" for note in spec.notes)
    return "\n".join(lines)


def _fix(violation: Violation) -> str:
    rule, limit = violation.rule, violation.limit
    if rule == "max_chars":
        return f"Shorten it to at most {limit} characters"
    if rule == "min_items":
        return f"Give at least {limit}"
    if rule == "max_items":
        return f"Give at most {limit}"
    if rule == "exclamation_in_headline":
        return "Remove the exclamation mark"
    if rule == "all_caps":
        return "Write those words in normal case"
    if rule == "repeated_punctuation":
        return "Use single punctuation marks"
    if rule == "empty":
        return "Write text for it"
    if rule == "format":
        # Callers report an unparseable answer (ContentFormatError) under this rule.
        return "Answer with the JSON object only"
    return "Fix it"


def repair_instruction(platform: Platform, violations: Sequence[Violation]) -> str:
    """The instruction of one constrained retry: every violation with its fix, the rest kept,
    the same JSON shape returned."""
    if not violations:
        raise ValueError("there are no violations to repair")
    spec = spec_for(platform)
    lines = [f"Your previous answer breaks these rules of {spec.display_name}:"]
    lines.extend(f"- {violation.message}. {_fix(violation)}." for violation in violations)
    if platform is Platform.GENERIC:
        lines.append("Fix only these problems and keep everything else as it was.")
        lines.append("Return only the corrected text.")
        return "\n".join(lines)
    lines.append(
        "Fix only these items and keep every other item exactly as it was, in the same order."
    )
    lines.append(
        "Return the same JSON object, with only the keys "
        f"{_expected_keys(spec)}, and no text before or after it."
    )
    return "\n".join(lines)
