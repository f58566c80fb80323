"""The aspects reviews talk about, per broad category, and the words that mention each.

An aspect is mentioned by a sentence that contains one of its trigger words or phrases (on
word boundaries, case-insensitive, a trailing plural "s"/"es" allowed). The ``general``
aspects and the universal ones (battery life, charging) apply to every product; a category's
own aspects apply to products of that category (the taxonomy's top level decides,
:data:`TOP_LEVEL_CATEGORY`), and to every product whose category is unknown: "it fits on my
wall" is no verdict on a television's fit. ``attributes`` names the product attributes that
state the aspect (a battery life of "40 hours"), which a recommendation quotes when the
product has one.

Triggers name the aspect ("battery", not "lasts forever"): the opinion is VADER's to score.
The few words that both mention an aspect and judge it ("flimsy") are its ``opinions``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType


@dataclass(frozen=True)
class Aspect:
    """``triggers`` name the aspect; ``opinions`` are words that mention it and judge it at
    once ("comfortable", "flimsy"). VADER scores some naming words ("fit" +1.5, "value" +1.4,
    "screws" -1.0) as if they were opinions; :func:`naming_words` lists them, so the aspect
    scorer can take them out of its lexicon ("the fit is off" is not praise)."""

    name: str  # "battery life", as a message names it
    triggers: tuple[str, ...]
    attributes: tuple[str, ...] = ()  # attribute keys that state it
    opinions: tuple[str, ...] = ()
    # Applies to products of every category: anything with a battery is reviewed for it
    # (a watch, a drill, a toy), and its words mean nothing else.
    universal: bool = False

    @property
    def words(self) -> tuple[str, ...]:
        return (*self.triggers, *self.opinions)


def _aspects(*aspects: Aspect) -> Mapping[str, Aspect]:
    return MappingProxyType({a.name: a for a in aspects})


LEXICON: Mapping[str, Mapping[str, Aspect]] = MappingProxyType(
    {
        "electronics": _aspects(
            Aspect(
                "battery life",
                ("battery", "batteries", "battery life", "charge lasts", "runtime"),
                ("battery_life", "battery", "runtime"),
                universal=True,
            ),
            Aspect(
                "screen",
                ("screen", "display", "resolution", "picture quality", "brightness"),
                ("screen_size", "display", "resolution"),
            ),
            Aspect(
                "sound",
                ("sound", "audio", "bass", "speaker", "volume", "noise cancelling"),
                ("audio", "speaker"),
            ),
            Aspect(
                "charging",
                ("charging", "charger", "charge time", "usb-c"),
                ("charging",),
                universal=True,
            ),
            Aspect(
                "connectivity",
                ("bluetooth", "wifi", "wi-fi", "connection", "pairing", "signal"),
                ("connectivity", "bluetooth"),
            ),
            Aspect(
                "performance",
                ("performance", "speed", "processor"),
                ("processor",),
                opinions=("lag", "laggy", "sluggish"),
            ),
            Aspect("setup", ("setup", "set up", "installation", "app")),
        ),
        "apparel": _aspects(
            Aspect(
                "fit",
                ("fit", "fits", "fitting", "true to size", "runs small", "runs large"),
                ("fit",),
            ),
            Aspect("size", ("size", "sizing", "too small", "too big"), ("size",)),
            Aspect(
                "comfort",
                ("comfort",),
                opinions=("comfortable", "uncomfortable", "comfy"),
            ),
            Aspect(
                "fabric",
                ("fabric", "material", "cotton", "wool", "linen", "stitching"),
                ("material", "fabric"),
            ),
            Aspect("colour", ("colour", "color"), ("color", "colour"), opinions=("faded",)),
            Aspect(
                "washing",
                ("wash", "washed", "washing"),
                ("care",),
                opinions=("shrank", "shrunk"),
            ),
        ),
        "home": _aspects(
            Aspect("assembly", ("assembly", "assemble", "assembled", "instructions", "screws")),
            Aspect(
                "sturdiness",
                ("sturdiness", "stability"),
                opinions=("sturdy", "stable", "wobbly", "wobble", "flimsy", "rickety"),
            ),
            Aspect("cleaning", ("clean", "cleaning", "dishwasher", "wipe"), ("care",)),
            Aspect("dimensions", ("dimensions", "measurements", "footprint"), ("dimensions",)),
            Aspect("design", ("design", "looks", "style", "finish"), ("style", "pattern")),
        ),
        "general": _aspects(
            Aspect(
                "quality",
                ("quality", "craftsmanship", "build quality"),
                opinions=("well made", "cheaply made"),
            ),
            Aspect(
                "value",
                ("price", "value", "money", "cost"),
                opinions=("worth", "expensive", "overpriced", "bargain", "pricey"),
            ),
            Aspect(
                "durability",
                ("durability", "lasted"),
                opinions=("durable", "broke", "broken", "fell apart", "wore out"),
            ),
            Aspect("delivery", ("delivery", "shipping", "shipped", "arrived", "courier")),
            Aspect("packaging", ("packaging", "packaged", "box", "wrapped")),
            Aspect(
                "customer service",
                ("customer service", "customer support", "seller", "refund", "replacement"),
            ),
        ),
    }
)

# The taxonomy's top levels whose products use a category's aspects; others use general only.
TOP_LEVEL_CATEGORY: Mapping[str, str] = MappingProxyType(
    {
        "Electronics": "electronics",
        "Cameras & Optics": "electronics",
        "Apparel & Accessories": "apparel",
        "Home & Garden": "home",
        "Furniture": "home",
        "Baby & Toddler": "home",
    }
)


def aspects_for(categories: Iterable[str] | None) -> tuple[Aspect, ...]:
    """General and universal aspects plus those of ``categories`` (keys of :data:`LEXICON`);
    every category's when ``categories`` is None (the product's category is unknown). A
    trigger shared by two aspects counts for both."""
    names = ("general", *(LEXICON if categories is None else categories))
    seen: dict[str, Aspect] = {}
    for category in names:
        if category not in LEXICON:
            known = ", ".join(LEXICON)
            raise ValueError(f"unknown aspect category {category!r}; expected one of {known}")
        for aspect in LEXICON[category].values():
            seen.setdefault(aspect.name, aspect)
    for lexicon in LEXICON.values():
        for aspect in lexicon.values():
            if aspect.universal:
                seen.setdefault(aspect.name, aspect)
    return tuple(seen.values())


@cache
def pattern(aspect: Aspect) -> re.Pattern[str]:
    """A regex matching any of the aspect's triggers as whole words (plural allowed)."""
    alternation = "|".join(
        re.escape(t).replace(r"\ ", r"\s+") for t in sorted(aspect.words, key=len, reverse=True)
    )
    return re.compile(rf"(?<![\w-])(?:{alternation})(?:e?s)?(?![\w-])", re.IGNORECASE)


def naming_words(aspects: Iterable[Aspect]) -> frozenset[str]:
    """The one-word triggers of ``aspects`` (naming words, not opinions), lower-case."""
    return frozenset(word.casefold() for a in aspects for word in a.triggers if " " not in word)


def mentions(text: str, aspect: Aspect) -> bool:
    return pattern(aspect).search(text) is not None
