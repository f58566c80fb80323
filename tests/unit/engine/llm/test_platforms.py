"""Platform limits: parsing a model's answer, counting characters as platforms do, and the
violations, instructions and repair prompt built from them."""

from __future__ import annotations

import json

import pytest

from engine.llm.platforms import (
    Content,
    ContentFormatError,
    Platform,
    check_content,
    display_length,
    format_instructions,
    parse_content,
    parse_platform,
    render_content,
    repair_instruction,
    spec_for,
)

GOOD_HEADLINES = ["Fresh roasted coffee", "Free delivery over 30 EUR", "Beans from Colombia"]
GOOD_DESCRIPTIONS = [
    "Single-origin beans roasted every week in small batches.",
    "Order by noon for same-day dispatch.",
]


def google(headlines: list[str], descriptions: list[str] | None = None) -> Content:
    text = json.dumps(
        {"headlines": headlines, "descriptions": descriptions or GOOD_DESCRIPTIONS},
        ensure_ascii=False,
    )
    return parse_content(Platform.GOOGLE_ADS, text)


def rules_of(content: Content, platform: Platform = Platform.GOOGLE_ADS) -> list[str]:
    return [violation.rule for violation in check_content(platform, content)]


# --- platform names --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("facebook_ads", Platform.META),
        ("Facebook", Platform.META),
        ("INSTAGRAM", Platform.META),
        ("meta_ads", Platform.META),
        ("meta", Platform.META),
        ("tiktok_ads", Platform.TIKTOK),
        ("seo_meta", Platform.SEO),
        (" Google Ads ", Platform.GOOGLE_ADS),
        ("google-ads", Platform.GOOGLE_ADS),
        ("generic", Platform.GENERIC),
    ],
)
def test_parse_platform_accepts_values_and_aliases(name: str, expected: Platform) -> None:
    assert parse_platform(name) is expected


def test_unknown_platform_lists_the_accepted_names() -> None:
    with pytest.raises(ValueError, match="unknown platform 'myspace'") as raised:
        parse_platform("myspace")
    message = str(raised.value)
    for accepted in ("google_ads", "meta", "facebook_ads", "tiktok", "email", "seo", "generic"):
        assert accepted in message


def test_every_platform_has_a_spec_with_a_source() -> None:
    for platform in Platform:
        spec = spec_for(platform)
        assert spec.platform is platform
        assert spec.fields
        if platform is not Platform.GENERIC:
            assert spec.source.startswith("https://")


def test_published_google_ads_figures() -> None:
    spec = spec_for(Platform.GOOGLE_ADS)
    headlines, descriptions = spec.field("headlines"), spec.field("descriptions")
    assert (headlines.max_chars, headlines.min_items, headlines.max_items) == (30, 3, 15)
    assert (descriptions.max_chars, descriptions.min_items, descriptions.max_items) == (90, 2, 4)
    assert headlines.hard
    assert headlines.wide_chars_count_double
    assert spec.source == "https://support.google.com/google-ads/answer/7684791"


# --- lengths -----------------------------------------------------------------------------------


def test_display_length_counts_wide_characters_double_only_when_asked() -> None:
    assert display_length("コーヒー豆", wide_double=True) == 10
    assert display_length("コーヒー豆", wide_double=False) == 5
    assert display_length("\uff21\uff22\uff23", wide_double=True) == 6  # full-width "ABC"


def test_display_length_ignores_combining_marks_and_joiners() -> None:
    decomposed = "cafe\u0301"  # e + combining acute, with no precomposed form forced
    assert display_length(decomposed, wide_double=False) == 4
    assert display_length("a\u0308\u0304", wide_double=False) == 1  # two stacked marks
    assert display_length("ab\u200dcd", wide_double=False) == 4


# --- parsing -----------------------------------------------------------------------------------


def test_parse_content_strips_json_fences_and_prose() -> None:
    body = json.dumps({"headlines": GOOD_HEADLINES, "descriptions": GOOD_DESCRIPTIONS})
    content = parse_content(Platform.GOOGLE_ADS, f"Here you go:\n```json\n{body}\n```\nEnjoy.")
    assert content.fields["headlines"] == tuple(GOOD_HEADLINES)
    assert content.fields["descriptions"] == tuple(GOOD_DESCRIPTIONS)
    assert list(content.fields) == ["headlines", "descriptions"]


def test_parse_content_finds_the_object_after_braces_that_are_not_json() -> None:
    text = 'Use {curly} wisely. {"ad_text": "Grind fresh every morning"}'
    content = parse_content(Platform.TIKTOK, text)
    assert content.fields == {"ad_text": ("Grind fresh every morning",)}


def test_missing_required_field_is_a_format_error_naming_it() -> None:
    text = '```json\n{"headlines": ["a", "b", "c"]}\n```'
    with pytest.raises(ContentFormatError, match='"descriptions"'):
        parse_content(Platform.GOOGLE_ADS, text)


def test_meta_answer_without_headline_names_the_field() -> None:
    text = json.dumps({"primary_text": "Fresh coffee", "description": "Shop now"})
    with pytest.raises(ContentFormatError, match='"headline"') as raised:
        parse_content(Platform.META, text)
    assert '"primary_text"' not in str(raised.value).split(";")[0]


def test_no_json_object_is_a_format_error_for_multi_field_platforms() -> None:
    with pytest.raises(ContentFormatError, match="not a JSON object"):
        parse_content(Platform.META, "Fresh coffee, delivered.")
    with pytest.raises(ContentFormatError):
        parse_content(Platform.GOOGLE_ADS, '{"headlines": ["unterminated"')


def test_non_string_item_is_a_format_error() -> None:
    text = json.dumps({"headlines": ["ok", 42, "fine"], "descriptions": GOOD_DESCRIPTIONS})
    with pytest.raises(ContentFormatError, match=r"headlines\[1\] must be a string"):
        parse_content(Platform.GOOGLE_ADS, text)


def test_single_scalar_platform_takes_plain_text() -> None:
    content = parse_content(Platform.TIKTOK, "  Grind fresh every morning  ")
    assert content.fields == {"ad_text": ("Grind fresh every morning",)}


def test_generic_takes_the_whole_text() -> None:
    text = 'Line one {"not": "parsed"}\nLine two'
    assert parse_content(Platform.GENERIC, text).fields == {"text": (text,)}


def test_render_content_round_trips_with_the_spec_shape() -> None:
    content = google(["Only one headline ünïcode 日本"])
    text = render_content(content, platform=Platform.GOOGLE_ADS)
    data = json.loads(text)
    assert data["headlines"] == ["Only one headline ünïcode 日本"]  # still a list
    assert "日本" in text  # not \u-escaped
    assert parse_content(Platform.GOOGLE_ADS, text) == content
    generic = parse_content(Platform.GENERIC, "free text")
    assert parse_content(Platform.GENERIC, render_content(generic)) == generic


# --- checks ------------------------------------------------------------------------------------


def test_valid_google_ad_has_no_violations() -> None:
    assert check_content(Platform.GOOGLE_ADS, google(GOOD_HEADLINES)) == ()


def test_a_34_character_headline_is_one_hard_max_chars_violation() -> None:
    long = "Premium Colombian Beans Roasted X"  # 33
    long += "s"
    assert len(long) == 34
    violations = check_content(Platform.GOOGLE_ADS, google([*GOOD_HEADLINES, long]))
    assert len(violations) == 1
    (violation,) = violations
    assert (violation.field, violation.index, violation.rule) == ("headlines", 3, "max_chars")
    assert (violation.limit, violation.actual, violation.hard) == (30, 34, True)
    assert violation.message == "headlines[3] is 34 characters; Google Ads allows 30"


def test_cjk_headline_counts_double_on_google_ads_but_not_on_meta() -> None:
    headline = "香り高いコーヒー豆を毎朝新鮮にお届けし"  # 19 full-width characters
    headline = headline[:16]
    assert len(headline) == 16
    violations = check_content(Platform.GOOGLE_ADS, google([*GOOD_HEADLINES, headline]))
    assert [(v.rule, v.index, v.actual, v.limit) for v in violations] == [("max_chars", 3, 32, 30)]
    assert "full-width" in violations[0].message

    meta = Content(
        {"primary_text": ("新鮮なコーヒー",), "headline": (headline,), "description": ("今すぐ",)}
    )
    assert check_content(Platform.META, meta) == ()
    assert display_length(headline, wide_double=False) == 16


def test_exclamation_in_a_google_headline_is_flagged_but_not_in_a_description() -> None:
    content = google(
        [*GOOD_HEADLINES, "Order today!"], ["Great coffee, fresh every week!", "Order now."]
    )
    violations = check_content(Platform.GOOGLE_ADS, content)
    assert [(v.field, v.index, v.rule, v.hard) for v in violations] == [
        ("headlines", 3, "exclamation_in_headline", True)
    ]


def test_full_width_exclamation_is_also_flagged() -> None:
    assert rules_of(google([*GOOD_HEADLINES, "今すぐ注文\uff01"])) == ["exclamation_in_headline"]


def test_all_caps_words_are_flagged_unless_allowed() -> None:
    content = google([*GOOD_HEADLINES, "FREE delivery today"])
    (violation,) = check_content(Platform.GOOGLE_ADS, content)
    assert (violation.rule, violation.index) == ("all_caps", 3)
    assert '"FREE"' in violation.message
    assert check_content(Platform.GOOGLE_ADS, content, allowed_caps=("free",)) == ()
    # Short acronyms read as acronyms, not shouting.
    assert check_content(Platform.GOOGLE_ADS, google([*GOOD_HEADLINES, "Ships in the USA"])) == ()


@pytest.mark.parametrize("text", ["Really fast?? Yes", "Best beans,, ever", "Wow ?! fresh"])
def test_repeated_punctuation_is_flagged(text: str) -> None:
    content = google(GOOD_HEADLINES, [text, "Order now."])
    assert rules_of(content) == ["repeated_punctuation"]


def test_an_ellipsis_and_a_url_are_not_repeated_punctuation() -> None:
    content = google(GOOD_HEADLINES, ["Fresh beans... every week", "Visit https://example.com"])
    assert check_content(Platform.GOOGLE_ADS, content) == ()


def test_too_few_and_too_many_headlines() -> None:
    too_few = check_content(Platform.GOOGLE_ADS, google(["One", "Two"]))
    assert [(v.rule, v.field, v.index, v.limit, v.actual) for v in too_few] == [
        ("min_items", "headlines", None, 3, 2)
    ]
    sixteen = [f"Headline number {n}" for n in range(16)]
    too_many = check_content(Platform.GOOGLE_ADS, google(sixteen))
    assert [(v.rule, v.limit, v.actual) for v in too_many] == [("max_items", 15, 16)]


def test_empty_items_are_flagged() -> None:
    violations = check_content(Platform.GOOGLE_ADS, google([*GOOD_HEADLINES, "   "]))
    assert [(v.rule, v.index) for v in violations] == [("empty", 3)]


def test_long_meta_primary_text_is_a_soft_violation() -> None:
    primary = "Fresh coffee " * 11  # 143 characters, stripped to 142
    text = json.dumps({"primary_text": primary, "headline": "Fresh beans", "description": "Shop"})
    (violation,) = check_content(Platform.META, parse_content(Platform.META, text))
    assert (violation.field, violation.index, violation.rule) == ("primary_text", None, "max_chars")
    assert (violation.limit, violation.actual, violation.hard) == (125, 142, False)
    assert "recommends" in violation.message


def test_meta_does_not_apply_google_editorial_rules() -> None:
    content = Content(
        {"primary_text": ("FREE coffee!!",), "headline": ("Order now!",), "description": ("Go",)}
    )
    assert check_content(Platform.META, content) == ()


def test_tiktok_limit_is_hard_and_seo_limits_are_soft() -> None:
    tiktok = Content({"ad_text": ("x" * 101,)})
    (violation,) = check_content(Platform.TIKTOK, tiktok)
    assert (violation.limit, violation.actual, violation.hard) == (100, 101, True)
    seo = Content({"title": ("t" * 61,), "meta_description": ("d" * 161,)})
    assert [(v.field, v.limit, v.hard) for v in check_content(Platform.SEO, seo)] == [
        ("title", 60, False),
        ("meta_description", 160, False),
    ]


def test_email_body_has_no_length_limit() -> None:
    email = Content(
        {"subject": ("Fresh beans",), "preheader": ("This week",), "body": ("b" * 9999,)}
    )
    assert check_content(Platform.EMAIL, email) == ()


@pytest.mark.parametrize(
    "text", ["", "FREE!!! " * 500, "x" * 100_000, "香" * 1000, '{"headlines": []}']
)
def test_generic_has_no_violations_for_any_text(text: str) -> None:
    assert check_content(Platform.GENERIC, parse_content(Platform.GENERIC, text)) == ()


# --- prompt text -------------------------------------------------------------------------------


def test_format_instructions_state_keys_limits_counts_and_notes() -> None:
    text = format_instructions(Platform.GOOGLE_ADS)
    assert "JSON object" in text
    assert '"headlines"' in text
    assert '"descriptions"' in text
    assert "3 to 15" in text
    assert "at most 30 characters" in text
    assert "2 to 4" in text
    assert "at most 90 characters" in text
    assert "exclamation mark" in text
    meta = format_instructions(Platform.META)
    assert '"primary_text"' in meta
    assert "125" in meta
    assert "recommended" in meta


def test_repair_instruction_names_every_violating_field_and_limit() -> None:
    content = google(["One headline that is far too long", "Two"], ["d" * 95, "Order now."])
    violations = check_content(Platform.GOOGLE_ADS, content)
    assert {v.rule for v in violations} == {"min_items", "max_chars"}
    text = repair_instruction(Platform.GOOGLE_ADS, violations)
    assert "headlines has 2 items" in text
    assert "at least 3" in text
    assert "headlines[0] is 33 characters" in text
    assert "at most 30 characters" in text
    assert "descriptions[0] is 95 characters" in text
    assert "at most 90 characters" in text
    assert "keep every other item" in text
    assert '"headlines", "descriptions"' in text


def test_repair_instruction_needs_violations() -> None:
    with pytest.raises(ValueError, match="no violations"):
        repair_instruction(Platform.META, [])
