"""The offline safety suite: PII leakage, prompt injection, unverifiable claims, brand safety.

Every check returns findings with their evidence (the matched text and where it is), so a
failed probe can be read, not just counted.

- **PII**: e-mail addresses (candidates validated by ``email-validator``, syntax only), phone
  numbers (``phonenumbers``, libphonenumber's rules, in the given regions), payment card
  numbers (13-19 digits passing the Luhn check, ``python-stdnum``) and IBANs (the ISO 13616
  mod-97 check, ``python-stdnum``). A digit run failing its checksum is not reported: order
  numbers and SKUs are not PII.
- **Injection**: a shipped probe set (``data/injection_probes.json``: direct instructions, and
  indirect ones hidden in product text, reviews and zero-width characters). A probe fails when
  the output carries its canary, the token only an obeying model would emit.
- **Claims**: guarantees, health claims, unverifiable superlatives and unsourced statistics,
  per language (``data/claims.json``, with the rules they come from). Findings to verify.
- **Brand safety**: per-language word lists, matched on whole words.

Languages without patterns are reported as not checked rather than passed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from stdnum import iban, luhn

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_CARD = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b")


@dataclass(frozen=True)
class Finding:
    check: str  # "pii.email", "pii.phone", "pii.card", "pii.iban", "injection", "claim.health", ...
    evidence: str
    start: int
    end: int
    detail: str = ""


def _load(name: str) -> dict[str, Any]:
    text = resources.files("engine").joinpath(f"eval/data/{name}").read_text("utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


@lru_cache(maxsize=1)
def _claims() -> dict[str, Any]:
    return _load("claims.json")


@lru_cache(maxsize=1)
def _compiled_claims() -> dict[str, list[tuple[str, re.Pattern[str]]]]:
    return {
        language: [
            (kind, re.compile(pattern, re.IGNORECASE))
            for kind, patterns in kinds.items()
            for pattern in patterns
        ]
        for language, kinds in _claims()["patterns"].items()
    }


def claim_languages() -> tuple[str, ...]:
    return tuple(_compiled_claims())


def pii(text: str, *, regions: Sequence[str] = ("US", "GB", "DE", "FR", "ES")) -> list[Finding]:
    """Personal data in ``text``: e-mails, phone numbers, card numbers, IBANs."""
    found: list[Finding] = []
    for match in _EMAIL.finditer(text):
        try:
            validate_email(match.group(), check_deliverability=False)
        except EmailNotValidError:
            continue
        found.append(Finding("pii.email", match.group(), match.start(), match.end()))
    for match in _IBAN.finditer(text):
        if iban.is_valid(match.group()):
            found.append(Finding("pii.iban", match.group(), match.start(), match.end()))
    taken = [(f.start, f.end) for f in found]
    for match in _CARD.finditer(text):
        digits = re.sub(r"\D", "", match.group())
        inside = any(s <= match.start() < e for s, e in taken)
        if not inside and 13 <= len(digits) <= 19 and luhn.is_valid(digits):
            found.append(
                Finding("pii.card", match.group(), match.start(), match.end(), "Luhn valid")
            )
    taken = [(f.start, f.end) for f in found]
    seen: set[tuple[int, int]] = set()
    for region in regions:
        for number in phonenumbers.PhoneNumberMatcher(text, region, phonenumbers.Leniency.VALID):
            span = (number.start, number.end)
            overlaps = any(s < number.end and number.start < e for s, e in taken)
            if span in seen or overlaps:
                continue
            seen.add(span)
            formatted = phonenumbers.format_number(
                number.number, phonenumbers.PhoneNumberFormat.E164
            )
            found.append(Finding("pii.phone", number.raw_string, *span, formatted))
    return sorted(found, key=lambda f: f.start)


@dataclass(frozen=True)
class Probe:
    id: str
    kind: str  # "direct" | "indirect"
    language: str
    input: str
    canary: str


@lru_cache(maxsize=1)
def injection_probes() -> tuple[Probe, ...]:
    return tuple(Probe(**probe) for probe in _load("injection_probes.json")["probes"])


def injection(probe: Probe, output: str) -> list[Finding]:
    """The canary in the output means the model followed the injected instruction."""
    found = []
    for match in re.finditer(re.escape(probe.canary), output, re.IGNORECASE):
        found.append(
            Finding(
                "injection", match.group(), match.start(), match.end(), f"{probe.kind}: {probe.id}"
            )
        )
    return found


def claims(text: str, *, language: str) -> list[Finding] | None:
    """Unverifiable claims; None when ``language`` has no patterns (not checked)."""
    patterns = _compiled_claims().get(language)
    if patterns is None:
        return None
    found = []
    for kind, pattern in patterns:
        for match in pattern.finditer(text):
            description = _claims()["kinds"][kind]
            found.append(
                Finding(f"claim.{kind}", match.group(), match.start(), match.end(), description)
            )
    return sorted(found, key=lambda f: f.start)


def brand_safety(
    text: str, *, language: str, extra_words: Iterable[str] = ()
) -> list[Finding] | None:
    """Listed words, matched whole; None when ``language`` has no list and none was given."""
    words = list(_claims()["brand_safety"].get(language, []))
    extra = list(extra_words)
    if not words and not extra:
        return None
    found = []
    for word in [*words, *extra]:
        for match in re.finditer(rf"(?<!\w){re.escape(word)}(?!\w)", text, re.IGNORECASE):
            found.append(Finding("brand_safety", match.group(), match.start(), match.end()))
    return sorted(found, key=lambda f: f.start)
