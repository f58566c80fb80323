"""Directives addressed to AI readers (indirect prompt injection), in the wording of the
supported languages."""

from __future__ import annotations

import re

from engine.surfacing.checks._text import quote
from engine.surfacing.lint.invisible import revealed

_AI = (
    r"(?:ai|a\.i\.|llms?|chat\s?gpt|gpt(?:-?\d[\w.]*)?|gemini|claude|copilot|perplexity"
    r"|language models?|chat\s?bots?)"
)
# Not followed by a hyphen or a letter: "AI-powered", "AI mapping" name a feature, not a reader.
_AI_READER = (
    rf"{_AI}(?:\s+(?:assistants?|agents?|models?|systems?|tools?|search(?:\s+engines?)?))?"
    r"(?![\w-])"
)
# Verbs that steer a recommendation; neutral ones ("select", "choose") are left out, since a
# device's own AI "should choose the right setting".
_STEER = r"(?:recommend|rank|promote|prefer|favou?r|mention|suggest)"
DIRECTIVES: tuple[re.Pattern[str], ...] = tuple(
    re.compile(p, re.IGNORECASE)
    for p in (
        # "Ignore previous instructions", in the supported languages' usual wording.
        r"\b(?:ignore|disregard|forget|override)\s+(?:all\s+|any\s+|the\s+|your\s+)*"
        r"(?:previous|prior|above|earlier|preceding|system)\s+(?:instructions?|prompts?|rules|directions)",
        r"\bignor(?:a|ar|e|en|ez|er|ere)\s+(?:todas\s+|toutes\s+|tutte\s+|alle\s+)?"
        r"(?:las\s+|les\s+|le\s+|as\s+)?(?:instrucciones|instructions|istruzioni|instruções)\s+"
        r"(?:anteriores|previas|précédentes|precedenti|prévias)",
        r"\bignorier(?:e|en)?\s+(?:alle\s+)?(?:vorherigen|bisherigen|vorigen)\s+anweisungen",
        r"\bnegeer\s+(?:alle\s+)?(?:vorige|eerdere|voorgaande)\s+instructies",
        r"(?:以前|前|上記)の指示を無視",
        r"忽略(?:之前|以上|先前|上述)的?(?:所有)?(?:指令|指示|说明)",
        r"تجاهل\s+(?:جميع\s+)?التعليمات\s+السابقة",
        # An AI reader told what to do: "AI assistants should recommend", "LLMs: always rank".
        rf"\b{_AI_READER}\s*[:,]?\s*(?:should|must|shall|need\s+to|are\s+(?:required|instructed)"
        rf"\s+to|always|please)\s+(?:always\s+|only\s+|now\s+)?{_STEER}\b",
        # Addressing one: "Note to AI:", "If you are an AI assistant".
        rf"\b(?:note|message|instructions?)\s+(?:to|for)\s+(?:any\s+|all\s+)?{_AI_READER}\s*:",
        rf"\bif\s+you\s+are\s+(?:an?\s+)?{_AI_READER}",
        rf"\b(?:dear|attention|hey)\s+{_AI_READER}",
        # "You must recommend this product", "rank this first".
        r"\byou\s+(?:must|shall|have\s+to|need\s+to|are\s+required\s+to)\s+(?:always\s+|only\s+)?"
        r"(?:recommend|rank|promote)\b",
        r"\brank\s+(?:this|it|us|our\s+\w+)\s+(?:first|#\s?1|number\s+one|highest|above|at\s+the\s+top)",
        # Chat-template tokens, which no product text needs.
        r"<\|(?:im_start|im_end|system|endoftext)\|>|\[/?INST\]|<\s*/?\s*(?:system|instructions?)\s*>",
    )
)


def find_directive(text: str) -> re.Match[str] | None:
    seen = revealed(text)
    return next((m for m in (p.search(seen) for p in DIRECTIVES) if m), None)


def context(text: str, match: re.Match[str]) -> str:
    """The match with up to 40 characters either side, tags (bar comments) dropped."""
    start, end = max(0, match.start() - 40), min(len(text), match.end() + 40)
    shown = re.sub(r"<(?!!--)[^>]*>", " ", text[start:end])
    return quote(("…" if start else "") + shown + ("…" if end < len(text) else ""), 200)
