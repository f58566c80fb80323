"""Eval suites: versioned specs in the style of promptfoo's config, read from YAML or JSON.

A suite names its prompts (an LLM-module template with a platform and language, or raw text
with ``{{variables}}``), the models to run by default (the org's model names), assertions every
case gets (``defaultTest``) and its cases (``tests``: variables, optional ``context`` to cluster
standard errors by, optional ``references``, and assertions). A ``budget-agent`` suite instead
describes sandbox episodes (see ``engine.eval.sandbox``).

Errors name the place in the file: ``tests[2].assert[0].type: unknown type 'contain'``.
Built-in suites ship in ``data/suites/`` (``marketing-automation``, ``safety``,
``budget-agent``); the ``safety`` suite's cases are the shipped injection probes plus PII,
claims and brand-safety checks on ordinary briefs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from engine.eval.assertions import Assertion, AssertionSpecError
from engine.eval.safety import injection_probes
from engine.llm.templates import Purpose, TemplateSpec, Variable, VariableType

BUILTIN = ("marketing-automation", "safety", "budget-agent")

Name = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
VarValue = str | int | float | bool | list[str]


class SuiteError(ValueError):
    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class AssertionSpec(_Spec):
    type: str = Field(max_length=50)
    value: Any = None
    threshold: float | None = None
    weight: float = Field(default=1.0, ge=0)


class PromptSpec(_Spec):
    template: Name | None = None
    text: str | None = Field(default=None, max_length=20_000)
    platform: str | None = Field(default=None, max_length=50)
    language: str = Field(default="en", max_length=10)

    @model_validator(mode="after")
    def _one_source(self) -> PromptSpec:
        if (self.template is None) == (self.text is None):
            raise ValueError("give exactly one of template or text")
        return self


class CaseSpec(_Spec):
    description: str = Field(default="", max_length=500)
    vars: dict[str, VarValue] = Field(default_factory=dict, max_length=50)
    context: str | None = Field(default=None, max_length=200)
    references: list[str] = Field(default_factory=list, max_length=10)
    language: str | None = Field(default=None, max_length=10)
    assert_: list[AssertionSpec] = Field(default_factory=list, alias="assert", max_length=30)


class DefaultTest(_Spec):
    assert_: list[AssertionSpec] = Field(default_factory=list, alias="assert", max_length=30)


class SandboxSpec(_Spec):
    periods: int = Field(default=52, ge=1, le=520)
    episodes: int = Field(default=100, ge=1, le=100_000)
    agents: list[str] = Field(default_factory=lambda: ["optimizer", "equal_split", "repeat"])
    budget_multiple: float = Field(
        default=1.0, gt=0, le=100, description="episode budget / the fit window's pace"
    )
    pass_regret: float = Field(default=0.02, ge=0, le=1)
    k: int = Field(default=4, ge=1, le=100)


class SuiteSpec(_Spec):
    name: Name
    description: str = Field(default="", max_length=2000)
    kind: Literal["prompts", "budget-agent"] = "prompts"
    models: list[str] = Field(default_factory=list, max_length=10)
    prompts: list[PromptSpec] = Field(default_factory=list, max_length=20)
    default_test: DefaultTest | None = Field(default=None, alias="defaultTest")
    tests: list[CaseSpec] = Field(default_factory=list, max_length=5000)
    sandbox: SandboxSpec | None = None

    @model_validator(mode="after")
    def _shape(self) -> SuiteSpec:
        if self.kind == "prompts" and (not self.prompts or not self.tests):
            raise ValueError("a prompts suite needs at least one prompt and one test")
        if self.kind == "budget-agent" and self.sandbox is None:
            raise ValueError("a budget-agent suite needs a sandbox section")
        return self


@dataclass(frozen=True)
class Case:
    """One prompt x test of a suite, with every assertion it must pass."""

    index: int
    prompt: PromptSpec
    test: CaseSpec
    assertions: tuple[Assertion, ...]

    @property
    def language(self) -> str:
        return self.test.language or self.prompt.language


def _location(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "suite"


def parse_suite(document: Mapping[str, Any]) -> SuiteSpec:
    try:
        spec = SuiteSpec.model_validate(document)
    except ValidationError as error:
        first = error.errors()[0]
        loc = tuple(p for p in first["loc"] if p not in ("function-after",))
        raise SuiteError(_location(loc), str(first["msg"]).removeprefix("Value error, ")) from None
    checks = [
        (f"tests[{i}].assert[{j}]", a)
        for i, t in enumerate(spec.tests)
        for j, a in enumerate(t.assert_)
    ]
    if spec.default_test:
        checks += [(f"defaultTest.assert[{j}]", a) for j, a in enumerate(spec.default_test.assert_)]
    for where, item in checks:
        try:
            _assertion(item).check(where)
        except AssertionSpecError as error:
            raise SuiteError(error.field, error.message) from None
    return spec


def load_suite(text: str) -> SuiteSpec:
    """A suite from YAML (or JSON, which is YAML)."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "suite"
        raise SuiteError(where, f"not valid YAML: {getattr(error, 'problem', error)}") from None
    if not isinstance(document, Mapping):
        raise SuiteError("suite", "must be a mapping with name, prompts and tests")
    return parse_suite(document)


def _assertion(item: AssertionSpec) -> Assertion:
    return Assertion(item.type, item.value, item.threshold, item.weight)


def cases(spec: SuiteSpec) -> list[Case]:
    """Every prompt x test, the defaultTest assertions first."""
    defaults = tuple(
        _assertion(a) for a in (spec.default_test.assert_ if spec.default_test else [])
    )
    out: list[Case] = []
    for prompt in spec.prompts:
        for test in spec.tests:
            own = tuple(_assertion(a) for a in test.assert_)
            out.append(Case(len(out), prompt, test, defaults + own))
    return out


@lru_cache(maxsize=len(BUILTIN))
def builtin_suite(name: str) -> SuiteSpec:
    if name not in BUILTIN:
        raise SuiteError("suite", f"no built-in suite '{name}'; built-in: {', '.join(BUILTIN)}")
    text = resources.files("engine").joinpath(f"eval/data/suites/{name}.yaml").read_text("utf-8")
    spec = load_suite(text)
    if name == "safety":
        spec = spec.model_copy(update={"tests": [*spec.tests, *injection_cases()]})
    return spec


def injection_cases() -> list[CaseSpec]:
    """One case per shipped injection probe: the probe's text is the brief, and the case
    passes when the output does not carry the probe's canary."""
    return [
        CaseSpec.model_validate(
            {
                "description": f"injection probe {p.id} ({p.kind})",
                "vars": {"product": p.input},
                "language": p.language,
                "assert": [{"type": "canary-absent", "value": p.canary}],
            }
        )
        for p in injection_probes()
    ]


def _variable_type(value: VarValue) -> VariableType:
    if isinstance(value, bool):
        return VariableType.BOOLEAN
    if isinstance(value, int):
        return VariableType.INTEGER
    if isinstance(value, float):
        return VariableType.NUMBER
    if isinstance(value, list):
        return VariableType.LIST
    return VariableType.STRING


def text_template(prompt: PromptSpec, variables: Mapping[str, VarValue]) -> TemplateSpec:
    """A raw-text prompt as an LLM-module template declaring the case's variables. Its name
    is a hash of the text, so two prompts that differ are never taken for one (the LLM
    module's response cache keys on the name)."""
    if prompt.text is None:
        raise ValueError("not a text prompt")
    digest = hashlib.sha256(prompt.text.encode()).hexdigest()[:16]
    return TemplateSpec(
        name=f"eval-text-{digest}",
        purpose=Purpose.PRODUCT_DESCRIPTION,
        language=prompt.language,
        system="",
        user=prompt.text,
        variables=tuple(
            Variable(
                name=name,
                type=_variable_type(value),
                required=False,
                max_length=20_000,
            )
            for name, value in variables.items()
        ),
        default_platform=prompt.platform,
    )
