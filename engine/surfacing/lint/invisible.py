"""Invisible characters: zero-width spaces, joiners between Latin letters, direction
overrides, and Unicode tag letters (which spell hidden ASCII a model still reads)."""

from __future__ import annotations

import re
from collections import Counter

from engine.surfacing.checks._text import quote

_INVISIBLE = {
    "\u200b": "ZERO WIDTH SPACE",
    "\u2060": "WORD JOINER",
    "\ufeff": "ZERO WIDTH NO-BREAK SPACE",
    "\u180e": "MONGOLIAN VOWEL SEPARATOR",
    "\u2061": "FUNCTION APPLICATION",
    "\u2062": "INVISIBLE TIMES",
    "\u2063": "INVISIBLE SEPARATOR",
    "\u2064": "INVISIBLE PLUS",
    "\u3164": "HANGUL FILLER",
    "\uffa0": "HALFWIDTH HANGUL FILLER",
    "\u115f": "HANGUL CHOSEONG FILLER",
    "\u1160": "HANGUL JUNGSEONG FILLER",
}
_OVERRIDES = {"\u202d": "LEFT-TO-RIGHT OVERRIDE", "\u202e": "RIGHT-TO-LEFT OVERRIDE"}
_JOINERS = {"\u200c": "ZERO WIDTH NON-JOINER", "\u200d": "ZERO WIDTH JOINER"}
# A tag letter is invisible, and a run of them spells hidden ASCII ("ASCII smuggling"); the
# one legitimate use is a subdivision flag (England, Scotland, Wales), which is left alone.
_TAG_RUN = re.compile("[\U000e0020-\U000e007e]+")
_FLAG = re.compile("\U0001f3f4[\U000e0020-\U000e007e]+\U000e007f")
_LATIN = re.compile(r"[A-Za-z\u00c0-\u024f]")
INVISIBLE_RUN_MIN = 3  # scattered zero-width spaces from copy-paste are not a hard fail


def _decode_tags(run: str) -> str:
    return "".join(chr(ord(ch) - 0xE0000) for ch in run)


def revealed(text: str) -> str:
    """``text`` as a model reads it: invisible characters dropped, tag letters decoded."""
    text = _TAG_RUN.sub(lambda m: " " + _decode_tags(m.group(0)) + " ", _FLAG.sub(" ", text))
    hidden = set(_INVISIBLE) | set(_OVERRIDES) | set(_JOINERS)
    return "".join(ch for ch in text if ch not in hidden)


def invisible_evidence(text: str) -> str | None:
    """What hides in ``text``, or None. Joiners count only between Latin letters (scripts
    such as Arabic and emoji sequences use them), a leading byte-order mark not at all."""
    body = _FLAG.sub("", text.removeprefix("\ufeff"))
    notes: list[str] = []
    tags = _TAG_RUN.findall(body)
    if tags:
        notes.append(
            "tag characters spelling " + quote(" ".join(_decode_tags(t) for t in tags), 120)
        )
    overrides = [_OVERRIDES[ch] for ch in body if ch in _OVERRIDES]
    if overrides:
        notes.append(f"{len(overrides)} x {overrides[0]} (text shown reversed)")
    counts: Counter[str] = Counter()
    inside_words = 0
    for i, ch in enumerate(body):
        if ch in _INVISIBLE or ch in _JOINERS:
            before, after = body[i - 1 : i], body[i + 1 : i + 2]
            between_letters = bool(before.isalnum() and after.isalnum())
            if ch in _JOINERS and not (_LATIN.match(before) and _LATIN.match(after)):
                continue
            counts[ch] += 1
            inside_words += between_letters
    if counts and (inside_words or sum(counts.values()) >= INVISIBLE_RUN_MIN):
        names = {**_INVISIBLE, **_JOINERS}
        shown = ", ".join(f"{n} x U+{ord(ch):04X} {names[ch]}" for ch, n in counts.most_common())
        where = f", {inside_words} inside words" if inside_words else ""
        notes.append(shown + where)
    return "; ".join(notes) or None


def without_invisible(text: str) -> str:
    body = _FLAG.sub(lambda m: "\x00" * len(m.group(0)), text)
    flags = _FLAG.findall(text)
    stripped = "".join(
        ch
        for ch in _TAG_RUN.sub("", body)
        if ch not in _INVISIBLE and ch not in _OVERRIDES and ch not in _JOINERS
    )
    for flag in flags:  # put the subdivision flags back where they were
        stripped = stripped.replace("\x00" * len(flag), flag, 1)
    return stripped
