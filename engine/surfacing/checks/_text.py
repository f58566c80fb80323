"""Text helpers the checks share: words, promotional text and its removal, sentences."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from html.parser import HTMLParser

from engine.surfacing.rules import PROMO

WORD = re.compile(r"\w+(?:['\u2019]\w+)*", re.UNICODE)
UNSPACED_LANGUAGES = frozenset({"ja", "zh"})  # written without spaces between words
_TAG = re.compile(r"<[^>]+>")
# A sentence ends at . ! ? before a space (not inside "19.99" or a URL), at a CJK full stop,
# or at a line break.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|(?<=[。\uff01\uff1f])|\n+")
_SPACES = re.compile(r"\s+")


def words(text: str) -> list[str]:
    return [w.casefold().replace("\u2019", "'") for w in WORD.findall(text)]


def singular_en(word: str) -> str:
    """A naive English singular, enough to match "lamps" with "lamp" and "dresses" with
    "dress" (not "knives" with "knife")."""
    if len(word) <= 3 or word.endswith(("ss", "us", "is", "'s")):
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "shes", "ches", "xes", "zes")):
        return word[:-2]
    if word.endswith("s"):
        return word[:-1]
    return word


def terms(text: str, language: str) -> list[str]:
    """Words, singular for English, for matching one text's words against another's."""
    found = words(text)
    return [singular_en(w) for w in found] if language == "en" else found


def mentions(value: str, text_terms: set[str], language: str) -> bool:
    """Whether every word of ``value`` is among ``text_terms``."""
    wanted = terms(value, language)
    return bool(wanted) and all(w in text_terms for w in wanted)


def contains(text: str, phrase: str, language: str) -> bool:
    """Whether ``phrase`` occurs in ``text`` as whole words (as a substring for ja/zh)."""
    if not phrase.strip():
        return False
    if language in UNSPACED_LANGUAGES:
        return phrase.casefold() in text.casefold()
    pattern = r"\s+".join(re.escape(part) for part in phrase.split())
    return re.search(rf"(?<!\w){pattern}(?!\w)", text, re.IGNORECASE) is not None


class _TextOnly(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def plain_text(text: str) -> str:
    """The text a shopper reads: HTML tags and comments dropped, entities decoded."""
    if "<" not in text and "&" not in text:
        return text
    parser = _TextOnly()
    parser.feed(text)
    parser.close()
    return _SPACES.sub(" ", " ".join(parser.parts)).strip()


def quote(text: str, limit: int = 160) -> str:
    """``text`` in quotes for evidence, whitespace collapsed, cut at ``limit`` characters."""
    text = _SPACES.sub(" ", text).strip()
    return f'"{text}"' if len(text) <= limit else f'"{text[:limit].rstrip()}…"'


def tidy(text: str) -> str:
    """Whitespace collapsed and the separators a removal leaves dangling dropped."""
    text = re.sub(r"\(\s*\)|\[\s*\]", " ", text)
    text = re.sub(r"\s+([,.;:!?])", r"\1", text)
    text = re.sub(r"([,;:|/\-\u2013—])(\s*[,;:|/\-\u2013—])+", r"\1", text)
    text = _SPACES.sub(" ", text).strip()
    return text.strip(" ,;:|/-\u2013—!")


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    text: str


@cache
def _promo_patterns(language: str, superlatives: bool) -> tuple[re.Pattern[str], ...]:
    terms_of = PROMO.get(language)
    if terms_of is None:
        return ()
    phrases = [*terms_of.phrases, *(terms_of.superlatives if superlatives else ())]
    # Longest first, so "best seller" is matched whole rather than as "best".
    phrases.sort(key=len, reverse=True)
    compiled: list[re.Pattern[str]] = []
    for phrase in phrases:
        body = r"\s+".join(re.escape(part) for part in phrase.split())
        if language in UNSPACED_LANGUAGES:
            compiled.append(re.compile(body, re.IGNORECASE))
        else:
            compiled.append(re.compile(rf"(?<!\w){body}(?!\w)", re.IGNORECASE))
    compiled.extend(re.compile(p, re.IGNORECASE) for p in terms_of.patterns)
    return tuple(compiled)


def _masked(text: str, keep: Iterable[str]) -> str:
    """``text`` with each of ``keep`` (a brand, say) blanked out, positions unchanged."""
    for phrase in keep:
        if phrase.strip():
            text = re.sub(
                re.escape(phrase), lambda m: " " * len(m.group(0)), text, flags=re.IGNORECASE
            )
    return text


def promo_spans(
    text: str, language: str, *, superlatives: bool, keep: Iterable[str] = ()
) -> list[Span]:
    """Promotional phrases in ``text`` (never inside ``keep``, e.g. the brand's own name)."""
    masked = _masked(text, keep)
    taken: list[Span] = []
    for pattern in _promo_patterns(language, superlatives):
        for match in pattern.finditer(masked):
            if any(match.start() < s.end and s.start < match.end() for s in taken):
                continue
            taken.append(Span(match.start(), match.end(), text[match.start() : match.end()]))
    return sorted(taken, key=lambda s: s.start)


def remove_spans(text: str, spans: Iterable[Span]) -> str:
    out = text
    for span in sorted(spans, key=lambda s: s.start, reverse=True):
        out = out[: span.start] + " " + out[span.end :]
    return tidy(out)


def sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE_END.split(text) if s.strip()]


def drop_sentences(text: str, offending: Callable[[str], bool]) -> str:
    """``text`` without the sentences ``offending`` picks (empty when nothing is left)."""
    kept = [s.strip() for s in sentences(text) if not offending(s)]
    return " ".join(s for s in kept if s)
