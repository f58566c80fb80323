"""Each assertion type on outputs whose verdict is known, negation, weights and bad specs."""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import pytest

from engine.eval.assertions import (
    Assertion,
    AssertionSpecError,
    Observed,
    Tools,
    evaluate,
    evaluate_case,
)


def check(kind: str, output: str, value: object = None, **kwargs: object) -> tuple[bool, float]:
    assertion = Assertion(kind, value, **kwargs)  # type: ignore[arg-type]
    assertion.check()
    result = evaluate(assertion, Observed(output, cost_usd=0.002, latency_ms=350.0))
    return result.passed, result.score


@pytest.mark.parametrize(
    ("kind", "output", "value", "expected"),
    [
        ("equals", " Buy now ", "Buy now", True),
        ("equals", "Buy now!", "Buy now", False),
        ("contains", "Free shipping today", "shipping", True),
        ("contains", "Free Shipping today", "shipping", False),
        ("icontains", "Free Shipping today", "shipping", True),
        ("starts-with", "Hello there", "Hello", True),
        ("regex", "Order #12345 shipped", r"#\d{5}\b", True),
        ("regex", "Order shipped", r"#\d{5}\b", False),
        ("contains-all", "red, soft, warm", ["red", "warm"], True),
        ("contains-all", "red, soft", ["red", "warm"], False),
        ("contains-any", "red, soft", ["blue", "soft"], True),
    ],
)
def test_deterministic_assertions(kind: str, output: str, value: object, expected: bool) -> None:
    assert check(kind, output, value)[0] is expected


def test_negation_inverts_pass_and_score() -> None:
    assert check("not-contains", "Guaranteed results", "guaranteed") == (True, 1.0)
    assert check("not-icontains", "Guaranteed results", "guaranteed") == (False, 0.0)


def test_contains_all_scores_the_share_found() -> None:
    assert check("contains-all", "red and blue", ["red", "blue", "green", "pink"]) == (False, 0.5)


def test_is_json_with_a_schema_names_the_failing_path() -> None:
    schema = {
        "type": "object",
        "properties": {
            "headlines": {"type": "array", "items": {"type": "string", "maxLength": 30}}
        },
        "required": ["headlines"],
    }
    good = json.dumps({"headlines": ["Run farther", "Hear every beat"]})
    bad = json.dumps({"headlines": ["A headline that is far too long for any ad"]})
    assert check("is-json", good, schema)[0]
    result = evaluate(Assertion("is-json", schema), Observed(bad))
    assert not result.passed
    assert "headlines/0" in result.reason
    assert not check("is-json", "{not json")[0]


def test_cost_and_latency_compare_with_their_thresholds() -> None:
    assert check("cost", "x", threshold=0.01)[0]
    assert not check("cost", "x", threshold=0.001)[0]
    assert check("latency", "x", threshold=500)[0]
    assert not check("latency", "x", threshold=200)[0]


def test_reference_metrics_use_the_cases_references() -> None:
    seen = Observed(
        "Wireless headphones for runners", references=("Wireless headphones for runners",)
    )
    for kind in ("chrf", "bleu", "rouge"):
        result = evaluate(Assertion(kind), seen)
        assert result.passed, kind
        assert result.score == pytest.approx(1.0), kind
    unrelated = Observed("Cheap sofa", references=("Wireless headphones for runners",))
    assert not evaluate(Assertion("chrf"), unrelated).passed


def test_similar_uses_the_given_embedder_and_fails_loudly_without_one() -> None:
    table = {"calm sea": [1.0, 0.0], "quiet ocean": [0.9, 0.1], "loud truck": [0.0, 1.0]}

    def embed(texts: Sequence[str]) -> np.ndarray:
        return np.asarray([table[t] for t in texts])

    tools = Tools(embed=embed)
    assert evaluate(Assertion("similar", "quiet ocean"), Observed("calm sea"), tools).passed
    assert not evaluate(Assertion("similar", "loud truck"), Observed("calm sea"), tools).passed
    missing = evaluate(Assertion("similar", "quiet ocean"), Observed("calm sea"))
    assert not missing.passed
    assert "no embedder" in missing.reason


def test_llm_rubric_uses_the_judges_grade() -> None:
    tools = Tools(judge=lambda output, rubric: (0.8 if "runners" in output else 0.1, "ok"))
    rubric = Assertion("llm-rubric", "speaks to runners")
    assert evaluate(rubric, Observed("Made for runners"), tools).passed
    assert not evaluate(rubric, Observed("Made for chefs"), tools).passed


def test_platform_limits_read_the_platforms_fields() -> None:
    fits = json.dumps(
        {
            "headlines": ["Run farther", "Hear every beat", "Made to move"],
            "descriptions": ["Sweat-proof earbuds.", "Forty hours of play."],
        }
    )
    too_long = json.dumps(
        {
            "headlines": ["A headline far longer than thirty characters", "B", "C"],
            "descriptions": ["x", "y"],
        }
    )
    value = {"platform": "google_ads"}
    assert check("platform-limits", fits, value)[0]
    assert not check("platform-limits", too_long, value)[0]


def test_a_case_passes_only_when_every_assertion_does_and_scores_by_weight() -> None:
    result = evaluate_case(
        [Assertion("contains", "runners", weight=3), Assertion("contains", "chefs", weight=1)],
        Observed("Made for runners"),
    )
    assert not result.passed
    assert result.score == pytest.approx(0.75)


@pytest.mark.parametrize(
    ("assertion", "field"),
    [
        (Assertion("contain", "x"), "assert.type"),
        (Assertion("regex", "("), "assert.value"),
        (Assertion("contains"), "assert.value"),
        (Assertion("cost"), "assert.threshold"),
        (Assertion("is-json", {"type": "no-such-type"}), "assert.value"),
        (Assertion("platform-limits", {"platform": "myspace"}), "assert.value"),
    ],
)
def test_bad_assertions_name_their_field(assertion: Assertion, field: str) -> None:
    with pytest.raises(AssertionSpecError) as error:
        assertion.check()
    assert error.value.field == field


def test_safety_assertions_flag_planted_problems_and_pass_clean_copy() -> None:
    clean = Observed("Sweat-proof earbuds with 40 hours of battery.")
    for kind in ("no-pii", "no-claims", "brand-safe"):
        assert evaluate(Assertion(kind), clean).passed, kind
    leaky = evaluate(Assertion("no-pii"), Observed("Write to jane.doe@example.com"))
    assert not leaky.passed
    assert "pii.email" in leaky.reason
    assert not evaluate(Assertion("no-claims"), Observed("Clinically proven results")).passed
    assert not evaluate(Assertion("canary-absent", "PWNED-7Q"), Observed("ok PWNED-7Q")).passed
    unchecked = evaluate(Assertion("no-claims"), Observed("text", language="ja"))
    assert not unchecked.passed  # a language without patterns is not silently passed
    assert "not checked" in unchecked.reason
