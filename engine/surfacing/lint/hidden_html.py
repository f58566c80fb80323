"""Text HTML hides from shoppers: comments and hiding styles (``display:none``,
``font-size:0``, off-screen offsets, the ``hidden`` attribute)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from engine.surfacing.checks._text import WORD, quote
from engine.surfacing.lint.directives import find_directive

_HIDING_STYLE = re.compile(
    r"display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*0(?:\.0+)?(?:px|pt|em|rem|%)?\s*(?:;|!|$)"
    r"|opacity\s*:\s*0(?:\.0+)?\s*(?:;|!|$)|(?:left|top|text-indent)\s*:\s*-\d{3,}(?:px|em)",
    re.IGNORECASE,
)
# Comments editors and themes leave in descriptions (WordPress blocks, Shopify's "split",
# clipboard fragments, Outlook conditionals).
_TEMPLATE_COMMENT = re.compile(
    r"^\s*(?:/?wp:|split\b|more\b|nextpage\b|StartFragment|EndFragment|\[if\s|\[endif\]|<!\[endif)",
    re.IGNORECASE,
)
_VOID = frozenset(
    (
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "source",
        "track",
        "wbr",
    )
)
HIDDEN_WORDS_MIN = 3  # fewer hidden words than this (a stray "&nbsp;" span) is not a hard fail


class _HiddenHtml(HTMLParser):
    """Collects hidden text and comments, and rebuilds the HTML without them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.stack: list[tuple[str, str | None]] = []  # (tag, why hidden)
        self.hidden: list[tuple[str, str]] = []  # (why, text)
        self.comments: list[str] = []
        self.visible: list[str] = []

    def _why(self) -> str | None:
        return next((why for _, why in reversed(self.stack) if why), None)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        style = values.get("style") or ""
        match = _HIDING_STYLE.search(style)
        why = f'style "{match.group(0).strip(" ;!")}"' if match else None
        if "hidden" in values:
            why = "the hidden attribute"
        if self._why() is None:
            self.visible.append(self.get_starttag_text() or "")
        if tag not in _VOID:
            self.stack.append((tag, why))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._why() is None:
            self.visible.append(self.get_starttag_text() or "")

    def handle_endtag(self, tag: str) -> None:
        visible_before = self._why() is None
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                break
        if visible_before:
            self.visible.append(f"</{tag}>")

    def handle_data(self, data: str) -> None:
        why = self._why()
        if why is None:
            self.visible.append(data)
        elif data.strip():
            self.hidden.append((why, data))

    def handle_entityref(self, name: str) -> None:
        self.handle_data(f"&{name};")

    def handle_charref(self, name: str) -> None:
        self.handle_data(f"&#{name};")

    def handle_comment(self, data: str) -> None:
        self.comments.append(data)


def _letter_words(text: str) -> int:
    return sum(1 for w in WORD.findall(text) if any(c.isalpha() for c in w))


def hidden_html(text: str) -> tuple[list[str], str] | None:
    """Quotes of the text HTML hides from shoppers, and the HTML without it; None when
    nothing (beyond editors' template comments and stray empty spans) is hidden."""
    if "<" not in text:
        return None
    parser = _HiddenHtml()
    parser.feed(text)
    parser.close()
    quotes: list[str] = []
    by_reason: dict[str, list[str]] = {}
    for why, data in parser.hidden:
        by_reason.setdefault(why, []).append(data)
    for why, parts in by_reason.items():
        hidden = " ".join(parts)
        if _letter_words(hidden) >= HIDDEN_WORDS_MIN or find_directive(hidden):
            quotes.append(f"hidden by {why}: {quote(hidden, 120)}")
    for comment in parser.comments:
        if _TEMPLATE_COMMENT.match(comment):
            continue
        if _letter_words(comment) >= HIDDEN_WORDS_MIN + 1 or find_directive(comment):
            quotes.append(f"in an HTML comment: {quote(comment, 120)}")
    if not quotes:
        return None
    return quotes, re.sub(r"\s{2,}", " ", "".join(parser.visible)).strip()
