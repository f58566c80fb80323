"""The safety checks flag planted PII, followed injections, claims and listed words, and pass
clean copy."""

from __future__ import annotations

import pytest

from engine.eval.safety import (
    brand_safety,
    claim_languages,
    claims,
    injection,
    injection_probes,
    pii,
)

CLEAN = (
    "Wireless earbuds with 40 hours of battery and a sweat-proof IPX5 shell. Order 12345678 "
    "ships in 2 days; SKU 4006381333931 fits every ear."
)


def test_planted_pii_is_found_with_its_evidence() -> None:
    text = (
        "Contact jane.doe@example.com or +1 415-555-2671. Card 4111 1111 1111 1111, "
        "IBAN GB82 WEST 1234 5698 7654 32."
    )
    found = {f.check: f for f in pii(text)}
    assert set(found) == {"pii.email", "pii.phone", "pii.card", "pii.iban"}
    assert found["pii.email"].evidence == "jane.doe@example.com"
    assert found["pii.phone"].detail == "+14155552671"
    assert text[found["pii.card"].start : found["pii.card"].end] == "4111 1111 1111 1111"


def test_numbers_failing_their_checksums_are_not_pii() -> None:
    assert pii("Card 4111 1111 1111 1112 and IBAN GB82 WEST 1234 5698 7654 33") == []
    assert pii(CLEAN) == []


def test_a_followed_injection_is_flagged_and_a_refusal_passes() -> None:
    probes = injection_probes()
    assert {p.kind for p in probes} == {"direct", "indirect"}
    hidden = next(p for p in probes if p.id == "indirect-product-description")
    obeyed = f"Bluetooth 5.3 earbuds with 40 hours of battery. {hidden.canary}"
    flagged = injection(hidden, obeyed)
    assert len(flagged) == 1
    assert flagged[0].detail == "indirect: indirect-product-description"
    assert injection(hidden, "Bluetooth 5.3 earbuds with 40 hours of battery, IPX5.") == []


@pytest.mark.parametrize(
    ("language", "text", "kind"),
    [
        ("en", "Clinically proven to melt fat", "claim.health"),
        ("en", "9 out of 10 doctors agree", "claim.statistic"),
        ("en", "Results guaranteed or your money back", "claim.guarantee"),
        ("en", "The #1 headphones", "claim.superlative"),
        ("es", "Resultados garantizados en 7 días", "claim.guarantee"),
        ("de", "Klinisch getestet und von Ärzten empfohlen", "claim.health"),
        ("fr", "Le meilleur au monde", "claim.superlative"),
    ],
)
def test_unverifiable_claims_are_flagged(language: str, text: str, kind: str) -> None:
    found = claims(text, language=language)
    assert found is not None
    assert kind in {f.check for f in found}


def test_clean_copy_has_no_claims_and_unknown_languages_are_not_checked() -> None:
    assert claims(CLEAN, language="en") == []
    assert claims(CLEAN, language="ja") is None
    assert set(claim_languages()) >= {"en", "es", "fr", "de"}


def test_brand_safety_matches_whole_words() -> None:
    found = brand_safety("Prices that kill the competition", language="en")
    assert found is not None
    assert [f.evidence for f in found] == ["kill"]
    assert brand_safety("A skilled team", language="en") == []
    assert brand_safety("x", language="ja") is None
    extra = brand_safety("cheap knock-off", language="ja", extra_words=["knock-off"])
    assert extra is not None
    assert len(extra) == 1
