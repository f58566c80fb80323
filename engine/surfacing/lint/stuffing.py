"""Keyword stuffing: one word or phrase repeated far beyond ordinary copy, and lists of
terms written for engines (labelled keywords, one keyword varied, unrelated terms)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator

from engine.surfacing.checks._text import WORD, quote, words
from engine.surfacing.rules import FUNCTION_WORDS, UNITS

TITLE_REPEATS_MIN = 4  # one word four times in a title (Amazon allows two)
TEXT_SHARE_MIN = 0.2  # one word above a fifth of a text's content words ...
TEXT_SHARE_WORDS = 25  # ... of at least this many, and ...
TEXT_REPEATS_MIN = 6  # ... used at least this often
NGRAM_REPEATS_MIN = 4  # one two- or three-word phrase four times (three in a title) ...
TITLE_NGRAM_REPEATS_MIN = 3
NGRAM_DENSITY_MIN = 0.1  # ... making a tenth of the phrases of the text
LIST_ITEMS_MIN = 12  # a run of this many short comma-separated terms ...
LIST_ITEM_WORDS = 4  # ... of up to four words each
_LIST_SPLIT = re.compile(r"\s*[,;|•·、\uff0c/]\s*")
_KEYWORD_LABEL = re.compile(
    r"\b(?:keywords?|tags?|search\s+terms?|related\s+searches|also\s+search(?:ed)?\s+for)\s*:?\s*$",
    re.IGNORECASE,
)
# Lists honest listings carry: ingredients (INCI), compatible models, contents, sizes.
_LEGIT_LABEL = re.compile(
    r"(?:ingredients?|inci|contains|composition|compatible|compatibility|fits|works\s+with|suitable\s+for"
    r"|for\s+use\s+with|includes?|included|contents|in\s+the\s+box|sizes?|colou?rs?|materials?|features"
    r"|specifications?|allergens?|ingredientes|ingrédients|zutaten|inhaltsstoffe|ingredienti"
    r"|ingrediënten|compatible\s+con|compatible\s+avec|kompatibel\s+mit|compatibile\s+con"
    r"|compatível\s+com|geschikt\s+voor|成分|配料|原材料|対応機種|适用|المكونات)"
    r"(?:\s+(?:with|for|models?|devices?))?\W*$",
    re.IGNORECASE,
)


def _content(text: str, language: str) -> list[str]:
    skip = FUNCTION_WORDS.get(language, frozenset()) | UNITS
    return [w for w in words(text) if len(w) > 2 and not w.isdigit() and w not in skip]


def _ngram_repeats(tokens: list[str], minimum: int) -> str | None:
    for n in (3, 2):
        grams = [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
        if not grams:
            continue
        gram, count = Counter(grams).most_common(1)[0]
        if count >= minimum and count / len(grams) >= NGRAM_DENSITY_MIN:
            return f"{' '.join(gram)!r} {count} times in {len(tokens)} words"
    return None


def _list_runs(sentence: str, *, loose: bool = False) -> Iterator[tuple[str, list[str]]]:
    """Runs of five or more short separated terms in ``sentence``, each with the text that
    leads into it (its label: "Ingredients:", "Tags:"). ``loose`` terms may hold digits
    and up to six words ("iPhone 15 Pro Max")."""
    short = _loose_term if loose else _short_term
    items: list[tuple[int, str]] = []
    position = 0
    for separator in _LIST_SPLIT.finditer(sentence + ","):
        items.append((position, sentence[position : separator.start()]))
        position = separator.end()
    start = 0
    while start < len(items):
        first_at, first = items[start]
        label = sentence[:first_at]
        head, colon, rest = first.rpartition(":")
        if colon:
            label, first = label + head + colon, rest
        run = [first] if short(first) else []
        end = start + 1
        while run and end < len(items) and short(items[end][1]):
            run.append(items[end][1])
            end += 1
        if len(run) >= 5:
            yield label, [t.strip() for t in run]
        start = max(end, start + 1)


def _short_term(item: str) -> bool:
    item = item.strip()
    return (
        0 < len(WORD.findall(item)) <= LIST_ITEM_WORDS
        and ":" not in item
        and not re.search(r"\d", item)
    )


def _loose_term(item: str) -> bool:
    return 0 < len(WORD.findall(item)) <= 6 and ":" not in item


def _keyword_list(text: str, title: str, language: str) -> str | None:
    for sentence in re.split(r"(?<=[.!?。])\s+|\n+", text):
        for label, run in _list_runs(sentence):
            shown = ", ".join(run[:8]) + (", …" if len(run) > 8 else "")
            if _KEYWORD_LABEL.search(label):
                return f"a keyword list: {quote(shown)} ({len(run)} terms)"
            if len(run) < LIST_ITEMS_MIN or _LEGIT_LABEL.search(label):
                continue
            related = _share_related(run, title, language)
            if related >= 0.6:
                return f"one keyword varied in a list: {quote(shown)} ({len(run)} terms)"
            if len(run) >= LIST_ITEMS_MIN + 3 and related <= 0.3:
                return f"a list of unrelated terms: {quote(shown)} ({len(run)} terms)"
    return None


def _share_related(run: list[str], title: str, language: str) -> float:
    title_words = set(_content(title, language))
    related = sum(1 for item in run if set(_content(item, language)) & title_words)
    return related / len(run)


def without_labelled_lists(text: str) -> str:
    """``text`` without the lists honest listings label (ingredients, compatible models),
    whose repeated terms ("iPhone 15, iPhone 15 Pro...") are not stuffing."""
    kept = []
    for sentence in re.split(r"(?<=[.!?。])\s+|\n+", text):
        for label, _ in _list_runs(sentence, loose=True):
            if _LEGIT_LABEL.search(label):
                sentence = sentence[: len(label)] if sentence.startswith(label) else sentence
                break
        kept.append(sentence)
    return " ".join(kept)


def stuffing(text: str, *, field: str, title: str, language: str) -> str | None:
    if field != "title":
        listed = _keyword_list(text, title, language)
        if listed:
            return listed
        text = without_labelled_lists(text)
    tokens = _content(text, language)
    if tokens:
        word, count = Counter(tokens).most_common(1)[0]
        if field == "title" and count >= TITLE_REPEATS_MIN:
            return f"{word!r} {count} times in the title"
        share = count / len(tokens)
        if (
            field != "title"
            and count >= TEXT_REPEATS_MIN
            and ((len(tokens) >= TEXT_SHARE_WORDS and share > TEXT_SHARE_MIN) or share >= 0.35)
        ):
            return f"{word!r} is {count} of {len(tokens)} content words ({share:.0%})"
    repeated = _ngram_repeats(
        words(text), TITLE_NGRAM_REPEATS_MIN if field == "title" else NGRAM_REPEATS_MIN
    )
    return repeated
