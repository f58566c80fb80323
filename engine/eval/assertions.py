"""Typed assertions on one output, in the style of promptfoo's, each with weight, threshold and
negation.

An assertion is ``{"type", "value"?, "threshold"?, "weight"?}``; a type prefixed ``not-`` passes
when the plain one fails (its score is one minus the plain score). Every result carries a score
in [0, 1], whether it passed and the reason, so a failure says what was expected.

| type | passes when | score |
|---|---|---|
| ``equals`` | output == value (after stripping surrounding whitespace) | 1 / 0 |
| ``contains``, ``icontains`` | value occurs in the output (case-insensitive for ``i``) | 1 / 0 |
| ``contains-any``, ``contains-all`` | any / all of the listed values occur | share found |
| ``starts-with`` | output starts with value | 1 / 0 |
| ``regex`` | the pattern matches somewhere (Python ``re``) | 1 / 0 |
| ``is-json`` | it parses as JSON (and validates against ``value`` if a JSON Schema) | 1 / 0 |
| ``similar`` | cosine similarity of embeddings >= threshold (default 0.75) | the cosine |
| ``llm-rubric`` | a judge model's grade against the rubric >= threshold (0.5) | the grade |
| ``cost`` | the call's cost in USD <= threshold | 1 / 0 |
| ``latency`` | the call's latency in ms <= threshold | 1 / 0 |
| ``chrf``, ``bleu`` | sacrebleu's score (0-100) against the references >= threshold | score / 100 |
| ``rouge`` | ROUGE-L F-measure (Unicode-aware) >= threshold | the F-measure |
| ``platform-limits`` | read as ``value["platform"]``'s fields, no hard limit broken | 1 / 0 |
| ``no-pii`` | no e-mail, phone, card (Luhn) or IBAN in it (``engine.eval.safety``) | 1 / 0 |
| ``no-claims`` | no unverifiable claim in the case's language | 1 / 0 |
| ``brand-safe`` | no listed word (plus ``value``'s own list) in the case's language | 1 / 0 |
| ``canary-absent`` | the injection probe's canary ``value`` is not in the output | 1 / 0 |

``platform-limits`` counts soft limits too when ``value["strict"]`` is true.

``similar`` and ``llm-rubric`` need an embedder and a judge: the caller passes them in (the
memory module's embedder, a configured judge model), so this module stays pure. A case passes
when every assertion passes; its score is the weighted mean of the assertion scores.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jsonschema
import numpy as np

from engine.eval import safety
from engine.llm import platforms
from engine.llm.quality import sentence_scores

Embed = Callable[[Sequence[str]], np.ndarray]
# (output, rubric) -> (grade in [0, 1], the judge's reason)
Judge = Callable[[str, str], tuple[float, str]]

TYPES = (
    "equals",
    "contains",
    "icontains",
    "contains-any",
    "contains-all",
    "starts-with",
    "regex",
    "is-json",
    "similar",
    "llm-rubric",
    "cost",
    "latency",
    "chrf",
    "bleu",
    "rouge",
    "platform-limits",
    "no-pii",
    "no-claims",
    "brand-safe",
    "canary-absent",
)
_NEEDS_VALUE = {
    "equals", "contains", "icontains", "contains-any", "contains-all", "starts-with", "regex",
    "similar", "llm-rubric", "canary-absent",
}  # fmt: skip
_NEEDS_THRESHOLD = {"cost", "latency"}
_DEFAULT_THRESHOLD = {"similar": 0.75, "llm-rubric": 0.5, "chrf": 50.0, "bleu": 30.0, "rouge": 0.5}


class AssertionSpecError(ValueError):
    """An assertion that cannot be evaluated as written; ``field`` names the part."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


@dataclass(frozen=True)
class Assertion:
    type: str
    value: Any = None
    threshold: float | None = None
    weight: float = 1.0

    @property
    def negated(self) -> bool:
        return self.type.startswith("not-")

    @property
    def base(self) -> str:
        return self.type.removeprefix("not-")

    def check(self, where: str = "assert") -> None:
        if self.base not in TYPES:
            raise AssertionSpecError(
                f"{where}.type", f"unknown type '{self.type}'; known: {', '.join(TYPES)}"
            )
        if self.base in _NEEDS_VALUE and self.value in (None, "", []):
            raise AssertionSpecError(f"{where}.value", f"'{self.base}' needs a value")
        if self.base in _NEEDS_THRESHOLD and self.threshold is None:
            raise AssertionSpecError(f"{where}.threshold", f"'{self.base}' needs a threshold")
        if self.weight < 0:
            raise AssertionSpecError(f"{where}.weight", "must be >= 0")
        if self.base == "regex":
            try:
                re.compile(str(self.value))
            except re.error as error:
                raise AssertionSpecError(f"{where}.value", f"bad pattern: {error}") from None
        if self.base == "is-json" and isinstance(self.value, Mapping):
            try:
                jsonschema.Draft202012Validator.check_schema(self.value)
            except jsonschema.SchemaError as error:
                raise AssertionSpecError(
                    f"{where}.value", f"not a JSON Schema: {error.message}"
                ) from None
        if self.base == "platform-limits":
            try:
                platforms.parse_platform(str((self.value or {}).get("platform", "")))
            except (ValueError, AttributeError):
                raise AssertionSpecError(
                    f"{where}.value", 'needs {"platform": <name>} (e.g. google_ads, meta, seo)'
                ) from None


@dataclass(frozen=True)
class Observed:
    """What one call produced: the output and what it cost."""

    output: str
    cost_usd: float = 0.0
    latency_ms: float = 0.0
    references: tuple[str, ...] = ()
    language: str = "en"


@dataclass(frozen=True)
class AssertionResult:
    type: str
    passed: bool
    score: float
    reason: str
    weight: float


@dataclass(frozen=True)
class Tools:
    """What the model-graded assertions need; absent ones make those assertions fail loudly."""

    embed: Embed | None = None
    judge: Judge | None = None


@dataclass(frozen=True)
class CaseResult:
    passed: bool
    score: float
    results: tuple[AssertionResult, ...] = field(default_factory=tuple)


def _strings(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list | tuple) else [str(value)]


def _plain(assertion: Assertion, seen: Observed, tools: Tools) -> tuple[float, bool, str]:
    """(score, passed, reason) of the assertion without its negation."""
    kind, value, output = assertion.base, assertion.value, seen.output
    threshold = assertion.threshold
    if threshold is None:
        threshold = _DEFAULT_THRESHOLD.get(kind)
    if kind == "equals":
        ok = output.strip() == str(value).strip()
        return float(ok), ok, "equal" if ok else f"expected exactly {str(value)[:80]!r}"
    if kind in ("contains", "icontains"):
        needle = str(value)
        hay, sought = (
            (output.casefold(), needle.casefold()) if kind == "icontains" else (output, needle)
        )
        ok = sought in hay
        return float(ok), ok, f"{'found' if ok else 'missing'} {needle[:80]!r}"
    if kind in ("contains-any", "contains-all"):
        wanted = _strings(value)
        found = [w for w in wanted if w in output]
        share = len(found) / len(wanted)
        ok = bool(found) if kind == "contains-any" else len(found) == len(wanted)
        missing = [w for w in wanted if w not in found]
        return (
            share,
            ok,
            f"found {len(found)} of {len(wanted)}"
            + (f"; missing {missing[:5]}" if missing else ""),
        )
    if kind == "starts-with":
        ok = output.lstrip().startswith(str(value))
        return float(ok), ok, "starts as expected" if ok else f"does not start with {value!r}"
    if kind == "regex":
        ok = re.search(str(value), output) is not None
        return float(ok), ok, f"pattern {'matched' if ok else 'not found'}: {value}"
    if kind == "is-json":
        try:
            document = json.loads(output)
        except json.JSONDecodeError as error:
            return 0.0, False, f"not JSON: {error.msg} at line {error.lineno} column {error.colno}"
        if isinstance(value, Mapping):
            problems = sorted(
                jsonschema.Draft202012Validator(value).iter_errors(document),
                key=lambda e: list(e.path),
            )
            if problems:
                first = problems[0]
                where = "/".join(str(p) for p in first.path) or "(root)"
                return 0.0, False, f"schema: {where}: {first.message}"
        return 1.0, True, "valid JSON" + (" matching the schema" if value else "")
    if kind == "similar":
        if tools.embed is None:
            return 0.0, False, "no embedder is available to measure similarity"
        vectors = np.asarray(tools.embed([output, *_strings(value)]), dtype=float)
        norms = np.linalg.norm(vectors, axis=1)
        cosines = vectors[1:] @ vectors[0] / np.maximum(norms[1:] * norms[0], 1e-12)
        best = float(np.max(cosines))
        assert threshold is not None
        ok = best >= threshold
        return max(best, 0.0), ok, f"similarity {best:.3f} (threshold {threshold})"
    if kind == "llm-rubric":
        if tools.judge is None:
            return 0.0, False, "no judge model is configured to grade the rubric"
        grade, reason = tools.judge(output, str(value))
        grade = min(max(float(grade), 0.0), 1.0)
        assert threshold is not None
        return grade, grade >= threshold, f"judge: {grade:.2f} (threshold {threshold}): {reason}"
    if kind == "cost":
        assert threshold is not None
        ok = seen.cost_usd <= threshold
        return float(ok), ok, f"cost ${seen.cost_usd:.6f} (limit ${threshold})"
    if kind == "latency":
        assert threshold is not None
        ok = seen.latency_ms <= threshold
        return float(ok), ok, f"latency {seen.latency_ms:.0f} ms (limit {threshold:g} ms)"
    if kind in ("chrf", "bleu", "rouge"):
        references = list(seen.references) or (_strings(value) if value else [])
        if not references:
            return 0.0, False, f"{kind} needs references (the case's or the assertion's value)"
        scores = sentence_scores(output, references, language=seen.language)
        raw = {"chrf": scores.chrf, "bleu": scores.bleu, "rouge": scores.rouge_l}[kind]
        assert raw is not None
        assert threshold is not None
        score = raw / 100.0 if kind in ("chrf", "bleu") else raw
        return score, raw >= threshold, f"{kind} {raw:.2f} (threshold {threshold:g})"
    if kind == "platform-limits":
        platform = platforms.parse_platform(str(value["platform"]))
        strict = value.get("strict", False) or value.get("mode") == "strict"
        try:
            content = platforms.parse_content(platform, output)
        except platforms.ContentFormatError as error:
            return 0.0, False, f"not readable as {platform.value} content: {error}"
        broken = [v for v in platforms.check_content(platform, content) if v.hard or strict]
        if broken:
            return 0.0, False, "; ".join(v.message for v in broken[:3])
        return 1.0, True, f"within {platform.value}'s limits"
    if kind == "no-pii":
        return _no_findings(safety.pii(output), "no personal data")
    if kind == "no-claims":
        claimed = safety.claims(output, language=seen.language)
        if claimed is None:
            return 0.0, False, f"claims are not checked in '{seen.language}'"
        return _no_findings(claimed, "no unverifiable claim")
    if kind == "brand-safe":
        words = _strings(value) if value else []
        listed = safety.brand_safety(output, language=seen.language, extra_words=words)
        if listed is None:
            return 0.0, False, f"no brand-safety list for '{seen.language}'"
        return _no_findings(listed, "no listed word")
    if kind == "canary-absent":
        probe = safety.Probe("assertion", "direct", seen.language, "", str(value))
        return _no_findings(safety.injection(probe, output), "the injected instruction was ignored")
    raise AssertionError(f"unhandled assertion type {kind}")


def _no_findings(found: Sequence[safety.Finding], clean: str) -> tuple[float, bool, str]:
    if not found:
        return 1.0, True, clean
    shown = "; ".join(f"{f.check} {f.evidence!r} at {f.start}" for f in found[:3])
    return 0.0, False, f"{len(found)} finding(s): {shown}"


def evaluate(assertion: Assertion, seen: Observed, tools: Tools = Tools()) -> AssertionResult:
    score, passed, reason = _plain(assertion, seen, tools)
    if assertion.negated:
        score, passed, reason = 1.0 - score, not passed, f"not ({reason})"
    return AssertionResult(assertion.type, passed, score, reason, assertion.weight)


def evaluate_case(
    assertions: Sequence[Assertion], seen: Observed, tools: Tools = Tools()
) -> CaseResult:
    """Every assertion on one output; the case passes when all do."""
    results = tuple(evaluate(a, seen, tools) for a in assertions)
    if not results:
        return CaseResult(True, 1.0, ())
    total = sum(r.weight for r in results)
    score = sum(r.score * r.weight for r in results) / total if total else 0.0
    return CaseResult(all(r.passed for r in results), score, results)
