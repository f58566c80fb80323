"""Prompt templates: declarations checked at compile time, values checked when bound, rendering
confined to the sandbox, and the built-in templates of every purpose and language."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from engine.llm.platforms import parse_platform
from engine.llm.templates import (
    LANGUAGES,
    Purpose,
    RenderedPrompt,
    TemplateError,
    TemplateSpec,
    TemplateVariablesError,
    Variable,
    VariableType,
    bind_variables,
    builtin_template,
    builtin_templates,
    compile_template,
    render,
)

PRODUCT = "Aurora X2 espresso grinder"


def spec(
    user: str = "Write about {{ product }}.",
    *,
    system: str = "",
    variables: tuple[Variable, ...] | None = None,
    name: str = "test",
) -> TemplateSpec:
    if variables is None:
        variables = (Variable("product", VariableType.STRING),)
    return TemplateSpec(
        name=name,
        purpose=Purpose.AD_COPY,
        language="en",
        system=system,
        user=user,
        variables=variables,
        default_platform=None,
    )


TYPED = spec(
    "{{ product }} {{ count }} {{ price }} {{ active }} {{ tags | join(',') }}",
    variables=(
        Variable("product", VariableType.STRING, max_length=10),
        Variable("count", VariableType.INTEGER),
        Variable("price", VariableType.NUMBER, required=False, default=1.5),
        Variable("active", VariableType.BOOLEAN, required=False),
        Variable("tags", VariableType.LIST, required=False, default=("a", "b")),
    ),
)


def problem_fields(error: TemplateVariablesError) -> list[str]:
    return [field for field, _ in error.problems]


# --- compile -----------------------------------------------------------------------------------


def test_a_valid_template_compiles() -> None:
    compile_template(spec(system="You write about {{ product }}."))


def test_an_undeclared_variable_fails_compile_naming_it() -> None:
    with pytest.raises(TemplateError, match="audience") as raised:
        compile_template(spec("Write about {{ product }} for {{ audience }}."))
    assert raised.value.field == "user"
    with pytest.raises(TemplateError) as in_system:
        compile_template(spec(system="{% if mood %}{{ mood }}{% endif %}"))
    assert in_system.value.field == "system"
    assert "mood" in in_system.value.message


def test_loop_variables_and_sandbox_globals_are_not_undeclared() -> None:
    source = "{% for p in points %}{{ loop.index }} {{ p }}{% endfor %}{{ range(2) | list }}"
    compile_template(spec(source, variables=(Variable("points", VariableType.LIST),)))


def test_a_syntax_error_names_the_field_and_line() -> None:
    with pytest.raises(TemplateError) as raised:
        compile_template(spec("Line one\n{% if product %}unclosed"))
    assert raised.value.field == "user"
    assert "line 2" in raised.value.message
    with pytest.raises(TemplateError) as in_system:
        compile_template(spec(system="{{ product "))
    assert in_system.value.field == "system"


def test_duplicate_variables_fail_compile() -> None:
    twice = (Variable("product", VariableType.STRING), Variable("product", VariableType.LIST))
    with pytest.raises(TemplateError, match="declared twice") as raised:
        compile_template(spec(variables=twice))
    assert raised.value.field == "variables.product"


@pytest.mark.parametrize(
    ("template", "field"),
    [
        (spec(name="Bad Name"), "name"),
        (spec(name="x" * 101), "name"),
        (spec("{{ Product }}", variables=(Variable("Product", VariableType.STRING),)), None),
        (spec("hi", variables=(Variable("9lives", VariableType.STRING),)), None),
    ],
)
def test_names_are_checked(template: TemplateSpec, field: str | None) -> None:
    with pytest.raises(TemplateError) as raised:
        compile_template(template)
    expected = field or f"variables.{template.variables[0].name}"
    assert raised.value.field == expected


def test_the_language_must_be_a_two_letter_code() -> None:
    template = spec()
    for language in ("english", "EN", "e1", ""):
        with pytest.raises(TemplateError) as raised:
            compile_template(replace(template, language=language))
        assert raised.value.field == "language"
    compile_template(replace(template, language="sw"))  # any ISO 639-1 code, not only LANGUAGES


def test_a_default_of_the_wrong_type_fails_compile() -> None:
    bad = (Variable("count", VariableType.INTEGER, required=False, default="three"),)
    with pytest.raises(TemplateError, match="default") as raised:
        compile_template(spec("{{ count }}", variables=bad))
    assert raised.value.field == "variables.count"


# --- bind --------------------------------------------------------------------------------------


def test_bind_collects_every_problem_at_once() -> None:
    values = {"colour": "red", "price": "cheap", "tags": ["ok", 3], "product": "x" * 11}
    with pytest.raises(TemplateVariablesError) as raised:
        bind_variables(TYPED, values)
    problems = dict(raised.value.problems)
    assert set(problems) == {
        "variables.colour",
        "variables.count",
        "variables.price",
        "variables.tags",
        "variables.product",
    }
    assert problems["variables.colour"] == (
        "not a variable of template test; it takes product, count, price, active, tags"
    )
    assert problems["variables.count"] == "is required"
    assert "number" in problems["variables.price"]
    assert "item 1" in problems["variables.tags"]
    assert "11 characters" in problems["variables.product"]
    assert isinstance(raised.value, TemplateError)
    assert isinstance(raised.value, ValueError)


@pytest.mark.parametrize("flag", [True, False])
def test_a_bool_is_not_an_integer_or_a_number(flag: bool) -> None:
    with pytest.raises(TemplateVariablesError) as raised:
        bind_variables(TYPED, {"product": "p", "count": flag, "price": flag})
    assert problem_fields(raised.value) == ["variables.count", "variables.price"]


def test_an_int_is_a_number_and_a_string_is_not_a_list() -> None:
    assert bind_variables(TYPED, {"product": "p", "count": 2, "price": 3})["price"] == 3
    with pytest.raises(TemplateVariablesError) as raised:
        bind_variables(TYPED, {"product": "p", "count": 2, "tags": "a,b"})
    assert problem_fields(raised.value) == ["variables.tags"]


def test_non_finite_numbers_are_rejected() -> None:
    with pytest.raises(TemplateVariablesError):
        bind_variables(TYPED, {"product": "p", "count": 1, "price": float("nan")})


def test_defaults_are_applied_and_lists_frozen() -> None:
    bound = bind_variables(TYPED, {"product": "p", "count": 3})
    assert bound == {"product": "p", "count": 3, "price": 1.5, "active": False, "tags": ("a", "b")}
    given = bind_variables(TYPED, {"product": "p", "count": 3, "tags": ["x"], "active": True})
    assert given["tags"] == ("x",)
    assert given["active"] is True


def test_none_counts_as_not_given() -> None:
    assert bind_variables(TYPED, {"product": "p", "count": 1, "price": None})["price"] == 1.5
    with pytest.raises(TemplateVariablesError) as raised:
        bind_variables(TYPED, {"product": None, "count": 1})
    assert raised.value.problems == (("variables.product", "is required"),)


# --- render ------------------------------------------------------------------------------------


def test_render_strips_and_trims_blocks() -> None:
    source = "\n  Write about {{ product }}.\n{% if tone %}\nTone: {{ tone }}\n{% endif %}\nEnd.\n"
    variables = (
        Variable("product", VariableType.STRING),
        Variable("tone", VariableType.STRING, required=False, default=""),
    )
    template = spec(source, system=" Be brief. ", variables=variables)
    assert render(template, {"product": "tea"}) == RenderedPrompt(
        system="Be brief.", user="Write about tea.\nEnd."
    )
    assert render(template, {"product": "tea", "tone": "warm"}).user == (
        "Write about tea.\nTone: warm\nEnd."
    )


def test_values_are_not_html_escaped() -> None:
    assert render(spec(), {"product": "<b>Tom & Jerry's</b>"}).user == (
        "Write about <b>Tom & Jerry's</b>."
    )


def test_render_reports_bad_values() -> None:
    with pytest.raises(TemplateVariablesError):
        render(spec(), {})


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ product.__class__.__mro__[1].__subclasses__() }}",
        "{{ ''.__class__ }}",
        "{{ product.upper.__globals__ }}",
        "{{ cycler.__init__.__globals__.os }}",
    ],
)
def test_the_sandbox_blocks_access_to_internals(source: str) -> None:
    template = spec(source)
    compile_template(template)
    with pytest.raises(TemplateError) as raised:
        render(template, {"product": "p"})
    assert raised.value.field == "user"


def test_the_sandbox_blocks_mutation_in_the_system_message() -> None:
    template = spec(
        "{{ product }}",
        system="{% set xs = [1] %}{{ xs.append(2) }}",
    )
    with pytest.raises(TemplateError) as raised:
        render(template, {"product": "p"})
    assert raised.value.field == "system"


@pytest.mark.parametrize(
    "source",
    [
        "{{ 'x' * 1000000000 }}",
        "{{ 1000000000 * [product] }}",
        "{{ 2 ** 1000000000 }}",
        "{{ (10 ** 100) ** 100 }}",  # Jinja's ** is left-associative
    ],
)
def test_the_sandbox_bounds_runaway_arithmetic(source: str) -> None:
    with pytest.raises(TemplateError, match="sandbox"):
        render(spec(source), {"product": "p"})
    assert render(spec("{{ '-' * 3 }}{{ 2 ** 3 }}{{ 2.0 ** 0.5 > 1 }}"), {"product": "p"}).user == (
        "---8True"
    )


def test_a_runtime_error_in_the_template_is_a_template_error() -> None:
    with pytest.raises(TemplateError) as raised:
        render(spec("{{ product }}{{ 1 / 0 }}"), {"product": "p"})
    assert raised.value.field == "user"


# --- built-in templates ------------------------------------------------------------------------

BUILTINS = builtin_templates()
JAPANESE = re.compile("[\u3040-\u30ff\u4e00-\u9fff]")  # kana and CJK ideographs
KANA = re.compile("[\u3040-\u30ff]")
ARABIC = re.compile("[\u0600-\u06ff]")
CJK = re.compile("[\u4e00-\u9fff]")
LATIN_WORD = re.compile(r"[A-Za-z]{3,}")


def test_every_purpose_has_a_builtin_in_every_language() -> None:
    assert len(BUILTINS) == len(Purpose) * len(LANGUAGES) == 60
    assert {(t.name, t.language) for t in BUILTINS} == {
        (purpose.value, language) for purpose in Purpose for language in LANGUAGES
    }
    for template in BUILTINS:
        assert template.purpose.value == template.name


@pytest.mark.parametrize("template", BUILTINS, ids=lambda t: f"{t.name}-{t.language}")
def test_each_builtin_renders_with_only_its_required_values(template: TemplateSpec) -> None:
    compile_template(template)
    values: dict[str, object] = {"product": PRODUCT}
    if template.purpose is Purpose.CHATBOT_REPLY:
        values["customer_message"] = "Where is my order 4711?"
    rendered = render(template, values)
    assert PRODUCT in rendered.user
    if template.purpose is Purpose.CHATBOT_REPLY:
        assert "Where is my order 4711?" in rendered.user
    assert rendered.system
    assert "{{" not in rendered.user
    assert "{%" not in rendered.user
    assert len(template.system) <= 400
    assert len(template.user) <= 600
    required = {v.name for v in template.variables if v.required}
    assert required == set(values)


@pytest.mark.parametrize("template", BUILTINS, ids=lambda t: f"{t.name}-{t.language}")
def test_each_builtin_uses_its_optional_values(template: TemplateSpec) -> None:
    values: dict[str, object] = {
        "product": PRODUCT,
        "target_audience": "AUDIENCE-1",
        "tone": "TONE-2",
        "key_points": ["POINT-3", "POINT-4"],
        "brand": "BRAND-5",
    }
    if template.purpose is Purpose.CHATBOT_REPLY:
        values["customer_message"] = "MESSAGE-6"
    if template.purpose is Purpose.EMAIL:
        values["offer"] = "OFFER-7"
    rendered = render(template, values)
    text = rendered.system + "\n" + rendered.user
    for value in values.values():
        for item in value if isinstance(value, list) else [value]:
            assert isinstance(item, str)
            assert item in text


def test_builtin_variables_are_as_documented() -> None:
    for template in BUILTINS:
        by_name = {v.name: v for v in template.variables}
        expected = {"product", "target_audience", "tone", "key_points", "brand"}
        if template.purpose is Purpose.CHATBOT_REPLY:
            expected.add("customer_message")
            assert by_name["customer_message"].required
        if template.purpose is Purpose.EMAIL:
            expected.add("offer")
            assert not by_name["offer"].required
        assert set(by_name) == expected
        assert by_name["product"].required
        assert by_name["product"].type is VariableType.STRING
        assert by_name["key_points"].type is VariableType.LIST
        assert by_name["key_points"].default == ()
        assert by_name["target_audience"].default == ""


def test_builtin_default_platforms_are_platforms() -> None:
    expected = {"ad_copy": "meta", "email": "email", "seo_meta": "seo"}
    for template in BUILTINS:
        assert template.default_platform == expected.get(template.name)
        if template.default_platform is not None:
            parse_platform(template.default_platform)


@pytest.mark.parametrize("purpose", list(Purpose))
def test_japanese_and_arabic_builtins_are_written_in_their_script(purpose: Purpose) -> None:
    ja = builtin_template(purpose.value, "ja")
    ar = builtin_template(purpose.value, "ar")
    zh = builtin_template(purpose.value, "zh")
    assert ja is not None
    assert ar is not None
    assert zh is not None
    for template, script in ((ja, JAPANESE), (ar, ARABIC), (zh, CJK)):
        for source in (template.system, template.user):
            prose = re.sub(r"\{[{%].*?[%}]\}", "", source)
            assert script.search(prose), (template.language, source)
            # Only acronyms such as "SEO" may be Latin; no English sentences.
            assert not [w for w in LATIN_WORD.findall(prose) if w.lower() == w], source
    assert KANA.search(ja.system)  # Japanese, not Chinese
    assert not KANA.search(zh.system + zh.user)


def test_builtins_differ_between_languages() -> None:
    english = builtin_template("ad_copy", "en")
    assert english is not None
    for language in LANGUAGES:
        other = builtin_template("ad_copy", language)
        assert other is not None
        if language != "en":
            assert other.system != english.system
            assert other.user != english.user


def test_builtin_lookup() -> None:
    found = builtin_template("email", "pt-BR")
    assert found is not None
    assert (found.name, found.language) == ("email", "pt")
    assert builtin_template("email", "JA") is builtin_template("email", "ja")
    assert builtin_template("email", "sw") is None
    assert builtin_template("nonexistent", "en") is None
    assert builtin_templates() is BUILTINS
