"""Versioned, typed prompt templates, rendered in Jinja2's immutable sandbox.

A template declares its variables with types; ``bind_variables`` checks the values a caller
gives against them (all problems at once) and fills defaults, so what reaches Jinja is only
strings, numbers, booleans and tuples of strings. Templates may be written by tenants, hence
the sandbox: attribute access to internals raises ``SecurityError``, and the arithmetic that
could build huge values (``*`` and ``**``) is bounded. Platform format instructions are not part
of a template; ``engine.llm.platforms`` appends them.

The built-in templates (``data/templates_<language>.json``) cover every ``Purpose`` in each of
``LANGUAGES``, each named after its purpose and written natively in its language.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache, lru_cache
from importlib.resources import files
from typing import Any

from jinja2 import StrictUndefined, Template, meta
from jinja2 import TemplateError as JinjaTemplateError
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

__all__ = [
    "LANGUAGES",
    "Purpose",
    "RenderedPrompt",
    "TemplateError",
    "TemplateSpec",
    "TemplateVariablesError",
    "Variable",
    "VariableType",
    "bind_variables",
    "builtin_template",
    "builtin_templates",
    "compile_template",
    "render",
]


class Purpose(StrEnum):
    AD_COPY = "ad_copy"
    EMAIL = "email"
    SEO_META = "seo_meta"
    PRODUCT_DESCRIPTION = "product_description"
    CHATBOT_REPLY = "chatbot_reply"
    SOCIAL_POST = "social_post"


# ISO 639-1 codes of the languages every purpose has a built-in template in.
LANGUAGES: tuple[str, ...] = ("en", "es", "fr", "de", "it", "pt", "nl", "ja", "zh", "ar")


class VariableType(StrEnum):
    STRING = "string"
    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"
    LIST = "list"  # of strings


Value = str | int | float | bool | tuple[str, ...] | None


@dataclass(frozen=True)
class Variable:
    name: str  # ^[a-z_][a-z0-9_]{0,63}$
    type: VariableType
    required: bool = True
    description: str = ""
    max_length: int = 2000  # of a string, or of each item of a list
    default: Value = None


@dataclass(frozen=True)
class TemplateSpec:
    name: str  # ^[a-z0-9][a-z0-9_.-]{0,99}$
    purpose: Purpose
    language: str  # ISO 639-1
    system: str  # Jinja2 source of the system message ("" for none)
    user: str  # Jinja2 source of the user message
    variables: tuple[Variable, ...]
    default_platform: str | None  # a platforms.Platform value, or None for free text
    version: int = 1  # bumped when the text changes, so outputs can be traced to it

    def variable_names(self) -> tuple[str, ...]:
        return tuple(variable.name for variable in self.variables)


class TemplateError(ValueError):
    """A template or the values given to it are invalid; ``field`` says where ("user",
    "variables.product")."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class TemplateVariablesError(TemplateError):
    """Every problem with the values given to a template, as (field, message) pairs."""

    def __init__(self, problems: tuple[tuple[str, str], ...]) -> None:
        super().__init__(
            "variables", "; ".join(f"{field}: {message}" for field, message in problems)
        )
        self.problems = problems


@dataclass(frozen=True)
class RenderedPrompt:
    system: str
    user: str


_TEMPLATE_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,99}")
_VARIABLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,63}")
_LANGUAGE = re.compile(r"[a-z]{2}")

# Bounds on the operators that could otherwise exhaust memory or CPU from a few characters of
# template source ("{{ 'x' * 10**9 }}", "{{ 2 ** 10**9 }}").
MAX_REPEAT_LENGTH = 100_000
MAX_POWER_BITS = 4096


class _Sandbox(ImmutableSandboxedEnvironment):
    # Intercepting the operators also stops Jinja folding constant expressions at compile time.
    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if (
            operator == "**"
            and isinstance(left, int)
            and isinstance(right, int)
            and right > 0
            and max(abs(left).bit_length(), 1) * right > MAX_POWER_BITS
        ):
            # Float powers overflow cheaply (OverflowError); integer ones grow without bound.
            raise SecurityError(f"the power would have more than {MAX_POWER_BITS} bits")
        if operator == "*":
            for sequence, count in ((left, right), (right, left)):
                if (
                    isinstance(sequence, str | list | tuple)
                    and _is_number(count)
                    and len(sequence) * count > MAX_REPEAT_LENGTH
                ):
                    raise SecurityError(
                        f"repeating a value would make it longer than {MAX_REPEAT_LENGTH}"
                    )
        return super().call_binop(context, operator, left, right)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


_ENV = _Sandbox(
    autoescape=False,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


@lru_cache(maxsize=512)
def _compiled(source: str) -> Template:
    return _ENV.from_string(source)


def _check_source(spec: TemplateSpec, field: str, source: str) -> None:
    try:
        tree = _ENV.parse(source)
    except JinjaTemplateError as error:
        line = getattr(error, "lineno", None)
        where = f"line {line}: " if line else ""
        raise TemplateError(field, f"{where}{error.message or error}") from error
    declared = set(spec.variable_names())
    undeclared = sorted(meta.find_undeclared_variables(tree) - declared - set(_ENV.globals))
    if undeclared:
        names = ", ".join(undeclared)
        takes = ", ".join(spec.variable_names()) or "none"
        raise TemplateError(
            field,
            f"uses {'an undeclared variable' if len(undeclared) == 1 else 'undeclared variables'}"
            f" {names}; the template declares {takes}",
        )


def _default_problem(variable: Variable) -> str | None:
    if variable.default is None:
        return None
    problems = _value_problems(variable, variable.default)
    return f"default: {problems[0]}" if problems else None


def compile_template(spec: TemplateSpec) -> None:
    """Checks ``spec``: its name, language and variable declarations, and that both sources
    parse in the sandbox and use only declared variables. Raises TemplateError at the first
    problem."""
    try:
        hash(spec)
    except TypeError:
        # A spec built with a list somewhere (a list default) cannot be cached; check it anyway.
        _check_spec(spec)
    else:
        _check_spec_once(spec)


@lru_cache(maxsize=1024)
def _check_spec_once(spec: TemplateSpec) -> None:
    _check_spec(spec)


def _check_spec(spec: TemplateSpec) -> None:
    if not _TEMPLATE_NAME.fullmatch(spec.name):
        raise TemplateError(
            "name", f"{spec.name!r} is not a template name (a-z, 0-9, '_', '.', '-'; 1-100)"
        )
    if not isinstance(spec.purpose, Purpose):
        raise TemplateError("purpose", f"{spec.purpose!r} is not a purpose")
    if not _LANGUAGE.fullmatch(spec.language):
        raise TemplateError("language", f"{spec.language!r} is not an ISO 639-1 language code")
    if isinstance(spec.version, bool) or not isinstance(spec.version, int) or spec.version < 1:
        raise TemplateError("version", "must be a positive integer")
    seen: set[str] = set()
    for variable in spec.variables:
        field = f"variables.{variable.name}"
        if not _VARIABLE_NAME.fullmatch(variable.name):
            raise TemplateError(
                field, "a variable name is a-z, 0-9 and '_', not starting with a digit; 1-64"
            )
        if variable.name in seen:
            raise TemplateError(field, "is declared twice")
        seen.add(variable.name)
        if not isinstance(variable.type, VariableType):
            raise TemplateError(field, f"{variable.type!r} is not a variable type")
        if variable.max_length < 1:
            raise TemplateError(field, "max_length must be at least 1")
        problem = _default_problem(variable)
        if problem:
            raise TemplateError(field, problem)
    _check_source(spec, "system", spec.system)
    _check_source(spec, "user", spec.user)


# --- values --------------------------------------------------------------------------------


def _value_problems(variable: Variable, value: object) -> list[str]:
    kind = variable.type
    if kind is VariableType.STRING:
        if not isinstance(value, str):
            return [f"must be a string, got {type(value).__name__}"]
        if len(value) > variable.max_length:
            return [f"is {len(value)} characters; at most {variable.max_length}"]
        return []
    if kind is VariableType.INTEGER:
        # bool is an int subclass; true must not read as 1.
        if not isinstance(value, int) or isinstance(value, bool):
            return [f"must be an integer, got {type(value).__name__}"]
        return []
    if kind is VariableType.NUMBER:
        if not _is_number(value):
            return [f"must be a number, got {type(value).__name__}"]
        if isinstance(value, float) and not math.isfinite(value):
            return ["must be a finite number"]
        return []
    if kind is VariableType.BOOLEAN:
        if not isinstance(value, bool):
            return [f"must be true or false, got {type(value).__name__}"]
        return []
    if not isinstance(value, list | tuple):
        return [f"must be a list of strings, got {type(value).__name__}"]
    problems = []
    for index, item in enumerate(value):
        if not isinstance(item, str):
            problems.append(f"item {index} must be a string, got {type(item).__name__}")
        elif len(item) > variable.max_length:
            problems.append(
                f"item {index} is {len(item)} characters; at most {variable.max_length}"
            )
    return problems


def _empty(variable: Variable) -> Value:
    # An optional variable left out is falsy in the template, so "{% if x %}" blocks drop out.
    if variable.type is VariableType.STRING:
        return ""
    if variable.type is VariableType.LIST:
        return ()
    if variable.type is VariableType.BOOLEAN:
        return False
    return None


def _frozen(value: object) -> object:
    return tuple(value) if isinstance(value, list | tuple) else value


def bind_variables(spec: TemplateSpec, values: Mapping[str, object]) -> dict[str, object]:
    """``values`` checked against ``spec``'s variables, with defaults filled in and lists made
    tuples. Raises TemplateVariablesError listing every unknown, missing and ill-typed value.
    A value of None counts as not given."""
    by_name = {variable.name: variable for variable in spec.variables}
    problems: list[tuple[str, str]] = []
    takes = ", ".join(by_name) or "no variables"
    for name in values:
        if name not in by_name:
            problems.append(
                (f"variables.{name}", f"not a variable of template {spec.name}; it takes {takes}")
            )
    bound: dict[str, object] = {}
    for variable in spec.variables:
        field = f"variables.{variable.name}"
        value = values.get(variable.name)
        if value is None:
            if variable.required:
                problems.append((field, "is required"))
                continue
            value = variable.default if variable.default is not None else _empty(variable)
            bound[variable.name] = _frozen(value)
            continue
        found = _value_problems(variable, value)
        problems.extend((field, problem) for problem in found)
        if not found:
            bound[variable.name] = _frozen(value)
    if problems:
        raise TemplateVariablesError(tuple(problems))
    return bound


def _render_source(field: str, source: str, bound: Mapping[str, object]) -> str:
    if not source:
        return ""
    try:
        return _compiled(source).render(bound).strip()
    except SecurityError as error:
        raise TemplateError(field, f"blocked by the sandbox: {error}") from error
    except JinjaTemplateError as error:
        raise TemplateError(field, str(error)) from error
    except (ArithmeticError, LookupError, TypeError, ValueError) as error:
        # The template's own expressions failed ("{{ 1 / 0 }}", a filter given a bad argument).
        raise TemplateError(field, f"{type(error).__name__}: {error}") from error


def render(spec: TemplateSpec, values: Mapping[str, object]) -> RenderedPrompt:
    """The system and user messages of ``spec`` with ``values`` (see bind_variables),
    whitespace-stripped."""
    compile_template(spec)
    bound = bind_variables(spec, values)
    return RenderedPrompt(
        system=_render_source("system", spec.system, bound),
        user=_render_source("user", spec.user, bound),
    )


# --- built-in templates --------------------------------------------------------------------

_DATA_PACKAGE = "engine"
_DATA_DIR = ("llm", "data")


def _variable_from_json(raw: Mapping[str, Any]) -> Variable:
    default = raw.get("default")
    return Variable(
        name=str(raw["name"]),
        type=VariableType(raw["type"]),
        required=bool(raw.get("required", True)),
        description=str(raw.get("description", "")),
        max_length=int(raw.get("max_length", 2000)),
        default=tuple(default) if isinstance(default, list) else default,
    )


def _spec_from_json(raw: Mapping[str, Any], language: str, version: int) -> TemplateSpec:
    platform = raw.get("default_platform")
    return TemplateSpec(
        name=str(raw["name"]),
        purpose=Purpose(raw["purpose"]),
        language=str(raw.get("language", language)),
        system=str(raw.get("system", "")),
        user=str(raw["user"]),
        variables=tuple(_variable_from_json(item) for item in raw["variables"]),
        default_platform=None if platform is None else str(platform),
        version=int(raw.get("version", version)),
    )


@cache
def builtin_templates() -> tuple[TemplateSpec, ...]:
    """The shipped templates, read from ``engine/llm/data/templates_*.json`` on first use and
    each checked with compile_template."""
    directory = files(_DATA_PACKAGE).joinpath(*_DATA_DIR)
    entries = sorted(
        (entry for entry in directory.iterdir() if re.fullmatch(r"templates_.+\.json", entry.name)),
        key=lambda entry: entry.name,
    )
    specs: list[TemplateSpec] = []
    for entry in entries:
        document = json.loads(entry.read_text(encoding="utf-8"))
        language = str(document["language"])
        version = int(document.get("version", 1))
        for raw in document["templates"]:
            try:
                spec = _spec_from_json(raw, language, version)
            except (KeyError, TypeError, ValueError) as error:
                raise ValueError(f"{entry.name}: template {raw.get('name')!r}: {error}") from error
            compile_template(spec)
            specs.append(spec)
    return tuple(specs)


@cache
def _builtin_index() -> Mapping[tuple[str, str], TemplateSpec]:
    return {(spec.name, spec.language): spec for spec in builtin_templates()}


def builtin_template(name: str, language: str) -> TemplateSpec | None:
    """The built-in template ``name`` in ``language``; a BCP 47 tag ("pt-BR") is looked up by
    its primary language. None when there is none."""
    primary = re.split(r"[-_]", language.strip(), maxsplit=1)[0].casefold()
    return _builtin_index().get((name, primary))
