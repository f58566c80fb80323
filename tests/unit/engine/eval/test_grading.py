"""One output graded into a run's metrics: the suite as written (``metrics=None``) or the
named metrics, with safety kept apart from accuracy and reference scores only where the case
has references."""

from __future__ import annotations

import pytest

from engine.eval.assertions import Assertion, Observed
from engine.eval.grading import DEFAULT_METRICS, METRICS, SAFETY_TYPES, grade, planned_checks

EMAIL_OUTPUT = "The Summer Sale starts on Monday. Questions? Write to jane.doe@example.com."
CLEAN_OUTPUT = "The Summer Sale starts on Monday."
CANARY = "CANARY-7731"
SEEN_METRICS = ["accuracy", "safety", "latency"]


def test_the_suite_as_written_checks_every_assertion_type_and_the_whole_case() -> None:
    assertions = [
        Assertion("icontains", "summer sale"),
        Assertion("icontains", "monday"),
        Assertion("regex", r"\bTuesday\b"),  # fails
        Assertion("not-contains", "Winter"),
        Assertion("no-pii"),
    ]
    seen = Observed(CLEAN_OUTPUT, cost_usd=0.002, latency_ms=340.0)
    graded = grade(assertions, seen, None)
    assert list(graded.checks) == ["pass", "icontains", "regex", "contains", "no-pii"]
    assert graded.checks == {
        "pass": False,  # the regex failed
        "icontains": True,
        "regex": False,
        "contains": True,  # not-contains is graded under its base type
        "no-pii": True,
    }
    assert set(graded.scores) == {"score", "latency_ms", "cost_usd"}
    assert graded.scores["score"] == pytest.approx(4 / 5)
    assert graded.scores["latency_ms"] == 340.0
    assert graded.scores["cost_usd"] == 0.002
    assert [r.type for r in graded.results] == [a.type for a in assertions]
    assert planned_checks(assertions, None) == list(graded.checks)


def test_one_failing_assertion_fails_its_type() -> None:
    assertions = [Assertion("icontains", "summer"), Assertion("icontains", "winter")]
    graded = grade(assertions, Observed(CLEAN_OUTPUT), None)
    assert graded.checks == {"pass": False, "icontains": False}


def test_the_suite_as_written_weights_the_score() -> None:
    assertions = [Assertion("icontains", "summer", weight=3.0), Assertion("contains", "nope")]
    graded = grade(assertions, Observed(CLEAN_OUTPUT), None)
    assert graded.scores["score"] == pytest.approx(3 / 4)


def test_an_e_mail_address_fails_safety_while_the_answer_stays_accurate() -> None:
    assertions = [Assertion("icontains", "SUMMER SALE")]
    graded = grade(assertions, Observed(EMAIL_OUTPUT, latency_ms=120.0), SEEN_METRICS)
    assert graded.checks == {"accuracy": True, "safety": False}
    assert graded.scores == {"latency_ms": 120.0}
    failed = [r for r in graded.results if not r.passed]
    assert [r.type for r in failed] == ["no-pii"]
    assert "jane.doe@example.com" in failed[0].reason


def test_a_clean_accurate_answer_passes_both() -> None:
    assertions = [Assertion("icontains", "summer sale")]
    graded = grade(assertions, Observed(CLEAN_OUTPUT), SEEN_METRICS)
    assert graded.checks == {"accuracy": True, "safety": True}


def test_an_inaccurate_answer_can_still_be_safe() -> None:
    assertions = [Assertion("icontains", "black friday")]
    graded = grade(assertions, Observed(CLEAN_OUTPUT), SEEN_METRICS)
    assert graded.checks == {"accuracy": False, "safety": True}


def test_a_case_with_only_safety_assertions_has_no_accuracy_check() -> None:
    assertions = [Assertion("canary-absent", CANARY), Assertion("no-pii")]
    graded = grade(assertions, Observed(CLEAN_OUTPUT), SEEN_METRICS)
    assert "accuracy" not in graded.checks
    assert graded.checks == {"safety": True}
    assert planned_checks(assertions, SEEN_METRICS) == ["safety"]


def test_planned_checks_are_the_checks_grade_produces() -> None:
    own = [Assertion("icontains", "summer"), Assertion("no-pii")]
    safety_only = [Assertion("canary-absent", CANARY)]
    everything = ["accuracy", "safety", "pass_rate", "score", "latency"]
    assert planned_checks(own, SEEN_METRICS) == ["accuracy", "safety"]
    assert planned_checks(own, everything) == ["accuracy", "safety", "pass_rate"]
    assert planned_checks(safety_only, everything) == ["safety", "pass_rate"]
    assert planned_checks([], ["latency"]) == []
    assert planned_checks([], None) == ["pass"]
    for assertions in (own, safety_only, []):
        for metrics in (SEEN_METRICS, everything, ["latency"], list(DEFAULT_METRICS)):
            graded = grade(assertions, Observed(CLEAN_OUTPUT), metrics)
            assert list(graded.checks) == planned_checks(assertions, metrics), metrics


def test_pass_rate_and_score_count_safety_too() -> None:
    assertions = [Assertion("icontains", "summer sale")]
    metrics = ["accuracy", "pass_rate", "score", "cost"]
    graded = grade(assertions, Observed(EMAIL_OUTPUT, cost_usd=0.01), metrics)
    assert graded.checks == {"accuracy": True, "pass_rate": False}
    # One own assertion and the three safety baselines, of which no-pii failed.
    assert graded.scores == {"score": pytest.approx(3 / 4), "cost_usd": 0.01}


REFERENCE_METRICS = ["accuracy", "bleu", "chrf", "rouge"]


def test_reference_scores_need_the_case_to_have_references() -> None:
    assertions = [Assertion("icontains", "summer")]
    graded = grade(assertions, Observed(CLEAN_OUTPUT), REFERENCE_METRICS)
    assert graded.scores == {}
    assert graded.checks == {"accuracy": True}


def test_reference_scores_appear_on_cases_with_references() -> None:
    assertions = [Assertion("icontains", "summer")]
    seen = Observed(CLEAN_OUTPUT, references=("The Summer Sale starts on Monday.",))
    graded = grade(assertions, seen, REFERENCE_METRICS)
    assert set(graded.scores) == {"bleu", "chrf", "rouge"}
    for name in ("bleu", "chrf", "rouge"):
        assert graded.scores[name] == pytest.approx(1.0), name  # identical to the reference
    other = grade(assertions, Observed("Nothing alike here.", references=seen.references), ["bleu"])
    assert set(other.scores) == {"bleu"}
    assert 0.0 <= other.scores["bleu"] < 0.5
    # References alone add no score the run did not ask for.
    assert grade(assertions, seen, SEEN_METRICS).scores == {"latency_ms": 0.0}


def test_an_injection_probe_canary_counts_under_safety() -> None:
    assertions = [Assertion("icontains", "summer"), Assertion("canary-absent", CANARY)]
    leaked = grade(assertions, Observed(f"{CLEAN_OUTPUT} {CANARY}"), SEEN_METRICS)
    assert leaked.checks == {"accuracy": True, "safety": False}
    failed = [r.type for r in leaked.results if not r.passed]
    assert failed == ["canary-absent"]
    ignored = grade(assertions, Observed(CLEAN_OUTPUT), SEEN_METRICS)
    assert ignored.checks == {"accuracy": True, "safety": True}
    # Graded as written it is its own check.
    as_written = grade(assertions, Observed(f"{CLEAN_OUTPUT} {CANARY}"), None)
    assert as_written.checks == {"pass": False, "icontains": True, "canary-absent": False}


def test_the_module_constants_agree() -> None:
    assert set(DEFAULT_METRICS) <= set(METRICS)
    assert "canary-absent" in SAFETY_TYPES
