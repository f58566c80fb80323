"""One output of one case graded into the metrics a run asks for.

A run either names metrics (the seed's ``/evaluate``: ``accuracy``, ``safety``, ``latency``,
...) or takes a suite as it is (``/benchmark``: whether every assertion passed, each assertion
type's verdict, the weighted score, latency and cost). Verdicts become ``checks`` (pass rates
with Wilson intervals downstream) and numbers ``scores`` (means with clustered standard
errors); see ``engine.eval.results``.

- ``accuracy``: the case's own assertions (``expected``, ``assert``) other than the safety
  ones all pass; a case without any is not counted.
- ``safety``: no PII, no unverifiable claim and no brand-unsafe word in the output, and every
  safety assertion of the case (e.g. an injection probe's ``canary-absent``) passes.
- ``pass_rate``: every assertion, safety included, passes. ``score``: their weighted score.
- ``latency`` / ``cost``: the call's milliseconds and dollars.
- ``bleu`` / ``chrf`` / ``rouge``: the reference-based score (0-1) on cases with references.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from engine.eval.assertions import Assertion, AssertionResult, Observed, Tools, evaluate

METRICS = ("accuracy", "safety", "pass_rate", "score", "latency", "cost", "bleu", "chrf", "rouge")
DEFAULT_METRICS = ("accuracy", "latency", "safety")
SAFETY_TYPES = frozenset({"no-pii", "no-claims", "brand-safe", "canary-absent"})
_SAFETY_BASELINE = (Assertion("no-pii"), Assertion("no-claims"), Assertion("brand-safe"))
_REFERENCE_METRICS = ("bleu", "chrf", "rouge")


@dataclass(frozen=True)
class Graded:
    checks: dict[str, bool]
    scores: dict[str, float]
    results: tuple[AssertionResult, ...]


def _weighted(results: Sequence[AssertionResult]) -> float:
    total = sum(r.weight for r in results)
    return sum(r.score * r.weight for r in results) / total if total else 1.0


def planned_checks(assertions: Sequence[Assertion], metrics: Sequence[str] | None) -> list[str]:
    """The check metrics a case has, known before it runs (a failed call fails them all)."""
    if metrics is None:
        return ["pass", *dict.fromkeys(a.base for a in assertions)]
    own = [a for a in assertions if a.base not in SAFETY_TYPES]
    out = []
    if "accuracy" in metrics and own:
        out.append("accuracy")
    if "safety" in metrics:
        out.append("safety")
    if "pass_rate" in metrics:
        out.append("pass_rate")
    return out


def grade(
    assertions: Sequence[Assertion],
    seen: Observed,
    metrics: Sequence[str] | None,
    tools: Tools = Tools(),
) -> Graded:
    """``metrics`` None grades the suite as written; otherwise only the named metrics."""
    if metrics is None:
        results = tuple(evaluate(a, seen, tools) for a in assertions)
        checks: dict[str, bool] = {"pass": all(r.passed for r in results)}
        for base in dict.fromkeys(a.base for a in assertions):
            checks[base] = all(
                r.passed for a, r in zip(assertions, results, strict=True) if a.base == base
            )
        scores: dict[str, float] = {
            "score": _weighted(results),
            "latency_ms": seen.latency_ms,
            "cost_usd": seen.cost_usd,
        }
        return Graded(checks, scores, results)

    own = [a for a in assertions if a.base not in SAFETY_TYPES]
    safety = [*_SAFETY_BASELINE, *(a for a in assertions if a.base in SAFETY_TYPES)]
    wanted: list[tuple[str, Assertion]] = []
    if {"accuracy", "pass_rate", "score"} & set(metrics):
        wanted += [("own", a) for a in own]
    if {"safety", "pass_rate", "score"} & set(metrics):
        wanted += [("safety", a) for a in safety]
    if seen.references:
        wanted += [(m, Assertion(m, threshold=0.0)) for m in _REFERENCE_METRICS if m in metrics]
    graded = [(group, evaluate(a, seen, tools)) for group, a in wanted]
    own_results = [r for group, r in graded if group == "own"]
    safety_results = [r for group, r in graded if group == "safety"]
    checks = {}
    scores = {}
    if "accuracy" in metrics and own:
        checks["accuracy"] = all(r.passed for r in own_results)
    if "safety" in metrics:
        checks["safety"] = all(r.passed for r in safety_results)
    if "pass_rate" in metrics:
        checks["pass_rate"] = all(r.passed for r in [*own_results, *safety_results])
    if "score" in metrics:
        scores["score"] = _weighted([*own_results, *safety_results])
    if "latency" in metrics:
        scores["latency_ms"] = seen.latency_ms
    if "cost" in metrics:
        scores["cost_usd"] = seen.cost_usd
    for group, r in graded:
        if group in _REFERENCE_METRICS:
            scores[group] = r.score
    return Graded(checks, scores, tuple(r for _, r in graded))
