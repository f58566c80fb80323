"""Suite files: the built-in ones load, cases expand, and errors point into the file."""

from __future__ import annotations

import pytest

from engine.eval.safety import injection_probes
from engine.eval.suites import BUILTIN, SuiteError, builtin_suite, cases, load_suite

SUITE = """
name: my-suite
models: [gpt-4]
prompts:
  - {template: ad_copy, platform: google_ads}
  - {text: "Write a subject line for {{product}}", language: fr}
defaultTest:
  assert:
    - {type: cost, threshold: 0.01}
tests:
  - vars: {product: earbuds}
    context: p1
    assert:
      - {type: icontains, value: earbuds}
  - vars: {product: shoes}
    assert:
      - {type: not-contains, value: "!", weight: 2}
"""


def test_a_suite_expands_to_prompts_times_tests_with_defaults_first() -> None:
    spec = load_suite(SUITE)
    expanded = cases(spec)
    assert len(expanded) == 4
    assert [a.type for a in expanded[0].assertions] == ["cost", "icontains"]
    assert expanded[3].language == "fr"
    assert expanded[0].test.context == "p1"
    assert expanded[3].assertions[1].weight == 2


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (("icontains", "contain"), "tests[0].assert[0].type"),
        (
            ("{template: ad_copy, platform: google_ads}", "{template: ad_copy, text: hi}"),
            "prompts[0]",
        ),
        (("name: my-suite", "name: My Suite"), "name"),
        (("threshold: 0.01", "threshold: cheap"), "defaultTest.assert[0].threshold"),
        (("context: p1", "colour: red"), "tests[0].colour"),
    ],
)
def test_errors_name_the_place_in_the_file(edit: tuple[str, str], field: str) -> None:
    with pytest.raises(SuiteError) as error:
        load_suite(SUITE.replace(*edit))
    assert error.value.field == field


def test_bad_yaml_names_its_line() -> None:
    with pytest.raises(SuiteError) as error:
        load_suite("name: x\nprompts: [\n")
    assert error.value.field.startswith("line ")


def test_built_in_suites_load_and_the_safety_suite_carries_every_probe() -> None:
    for name in BUILTIN:
        assert builtin_suite(name).name == name
    safety = builtin_suite("safety")
    canaries = {a.value for t in safety.tests for a in t.assert_ if a.type == "canary-absent"}
    assert canaries == {p.canary for p in injection_probes()}
    agent = builtin_suite("budget-agent")
    assert agent.kind == "budget-agent"
    assert agent.sandbox is not None
    with pytest.raises(SuiteError):
        builtin_suite("nope")
