from __future__ import annotations

import dataclasses
import time

import pytest

from memory.entities import Entity, canonical_name, extract_entities


def _by_name(text: str, metadata: dict[str, object] | None = None) -> dict[str, Entity]:
    return {entity.name: entity for entity in extract_entities(text, metadata)}


def _kinds(text: str, metadata: dict[str, object] | None = None) -> dict[str, str]:
    return {name: entity.kind for name, entity in _by_name(text, metadata).items()}


def test_entity_is_frozen() -> None:
    entity = Entity(name="roas", kind="metric", label="ROAS")
    with pytest.raises(dataclasses.FrozenInstanceError):
        entity.name = "cpa"  # type: ignore[misc]


def test_canonical_name_folds_case_space_and_quotes() -> None:
    assert canonical_name('  "Summer   SALE" ') == "summer sale"


@pytest.mark.parametrize(
    ("text", "channel"),
    [
        ("Spend on Meta doubled", "facebook"),
        ("fb ads underperformed", "facebook"),
        ("AdWords and paid search", "google ads"),
        ("the Klaviyo flows", "email"),
        ("a TikTok test", "tiktok"),
        ("YouTube pre-roll", "youtube"),
        ("linear TV flight", "tv"),
        ("Microsoft Ads (formerly Bing)", "bing"),
        ("affiliates and podcasts", "affiliate"),
    ],
)
def test_channel_aliases_map_to_one_canonical_name(text: str, channel: str) -> None:
    assert _kinds(text).get(channel) == "channel"


def test_channel_label_is_the_display_form() -> None:
    assert _by_name("we paused google ads")["google ads"].label == "Google Ads"


def test_channel_alias_needs_word_boundaries() -> None:
    assert _kinds("the metadata and emailing list") == {}


@pytest.mark.parametrize(
    ("text", "metric"),
    [
        ("ROAS fell", "roas"),
        ("return on ad spend fell", "roas"),
        ("CPA and CTR", "cpa"),
        ("CPA and CTR", "ctr"),
        ("customer lifetime value rose", "ltv"),
        ("average order value", "aov"),
        ("more conversions", "conversions"),
    ],
)
def test_metrics(text: str, metric: str) -> None:
    assert _kinds(text).get(metric) == "metric"


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("launched 2023-05-07 at noon", "2023-05-07"),
        ("launched May 7, 2023", "2023-05-07"),
        ("launched May 7th 2023", "2023-05-07"),
        ("1:56 pm on 8 May, 2023", "2023-05-08"),
        ("the 3rd of Sept 2024", "2024-09-03"),
        ("in March 2024", "2024-03"),
        ("results for 2024-Q1", "2024-q1"),
        ("results for Q3 2023", "2023-q3"),
    ],
)
def test_dates_are_canonical(text: str, iso: str) -> None:
    entities = [entity for entity in extract_entities(text) if entity.kind == "date"]
    assert [entity.name for entity in entities] == [iso]


def test_quarter_label_keeps_display_case() -> None:
    assert _by_name("Q1 2024 plan")["2024-q1"].label == "2024-Q1"


def test_impossible_iso_date_is_dropped() -> None:
    assert _kinds("on 2023-02-30") == {}


def test_month_name_inside_a_full_date_is_not_a_second_date() -> None:
    assert [entity.name for entity in extract_entities("7 May 2023")] == ["2023-05-07"]


@pytest.mark.parametrize(
    ("text", "campaign"),
    [
        ('we launched the "Summer Sale" campaign', "summer sale"),
        ("the campaign called 'Back To School' ended", "back to school"),
        ("The Black Friday campaign drove revenue", "black friday"),
        ("see campaign_id: cmp-77", "cmp-77"),
    ],
)
def test_campaigns_in_text(text: str, campaign: str) -> None:
    assert _kinds(text).get(campaign) == "campaign"


def test_channel_before_the_word_campaign_stays_a_channel() -> None:
    assert _kinds("Our Facebook campaign stalled") == {"facebook": "channel"}


@pytest.mark.parametrize(
    ("text", "sku"),
    [("restock SKU-12345 now", "sku-12345"), ("sku#12345", "sku-12345"), ("AB-9981", "ab-9981")],
)
def test_sku_like_tokens_are_products(text: str, sku: str) -> None:
    assert _kinds(text).get(sku) == "product"


def test_capitalised_names_are_people_but_not_sentence_starts() -> None:
    kinds = _kinds("Yesterday I met Caroline and Melanie. Went home after.")
    assert kinds == {"caroline": "person", "melanie": "person"}


def test_speaker_tag_at_line_start_is_a_person() -> None:
    assert _kinds("Caroline: Hey Mel!") == {"caroline": "person", "mel": "person"}


def test_multi_word_spans_are_places_or_topics() -> None:
    kinds = _kinds("We flew to New York for the Pride Parade and saw the Louvre Museum.")
    assert kinds == {"new york": "place", "pride parade": "topic", "louvre museum": "place"}


def test_metadata_entities_campaign_product_and_channel() -> None:
    metadata: dict[str, object] = {
        "entities": [{"name": "Acme Co", "kind": "Brand"}, {"name": "", "kind": "x"}, "junk"],
        "campaign": "BF23",
        "sku": ["A1", "A1"],
        "channel": "meta",
    }
    assert extract_entities("", metadata) == [
        Entity(name="acme co", kind="brand", label="Acme Co"),
        Entity(name="bf23", kind="campaign", label="BF23"),
        Entity(name="a1", kind="product", label="A1"),
        Entity(name="facebook", kind="channel", label="Facebook"),
    ]


def test_explicit_metadata_kind_wins_over_text() -> None:
    metadata: dict[str, object] = {"entities": [{"name": "Paris", "kind": "campaign"}]}
    assert _kinds("Caroline loves Paris", metadata)["paris"] == "campaign"


def test_duplicates_collapse_to_first_occurrence() -> None:
    names = [entity.name for entity in extract_entities("Facebook, facebook and FB; ROAS, roas")]
    assert names == ["facebook", "roas"]


def test_extraction_is_fast_enough_for_every_memory() -> None:
    text = (
        "Caroline: On May 7, 2023 the 'Spring Push' campaign on Meta and TikTok lifted ROAS "
        "and revenue for SKU-4411; Melanie wants the 2024-Q1 numbers from New York. "
    ) * 4
    start = time.perf_counter()
    for _ in range(500):
        extract_entities(text)
    assert time.perf_counter() - start < 2.0


@pytest.mark.parametrize(
    "text",
    [
        "What is Caroline's identity?",
        "What is Caroline\u2019s identity?",
        "I met Caroline's sister",
    ],
)
def test_possessive_names_the_person_itself(text: str) -> None:
    assert _kinds(text) == {"caroline": "person"}


def test_possessive_inside_a_multi_word_name_is_kept() -> None:
    assert _kinds("We ate at the Jon's Bakery stand") == {"jon's bakery": "topic"}


@pytest.mark.parametrize("modal", ["Would", "Could", "Might", "Does", "Has"])
def test_a_leading_modal_verb_is_not_part_of_the_name(modal: str) -> None:
    assert _kinds(f"{modal} Melanie go camping?") == {"melanie": "person"}
