"""Static answers and rules handlers: matchers, first match, default, nearest rule, checks, save as rule."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from app.handlers.rules import (
    Matcher,
    Response,
    Rule,
    RulesSpec,
    answer_rules,
    check_rules,
    nearest_rule,
    rule_from_answer,
)
from app.handlers.static import StaticSpec, answer_static
from app.handlers.templates import TemplateContext


def make_context(args: dict[str, Any] | None = None) -> TemplateContext:
    return TemplateContext(
        args={"city": "Oslo"} if args is None else args,
        agent_id="5f0c6b2e-8a4d-4c1e-9a57-2b3f3c4d5e6f",
        task_id=1042,
        round=1,
        results={},
        now=datetime(2026, 11, 29, 17, 0, tzinfo=UTC),
        seed=1,
    )


def make_rule(*when: Matcher, output: Any = "hit", name: str = "") -> Rule:
    return Rule(name=name, when=list(when), response=Response(output=output))


def matches(matcher: Matcher, args: dict[str, Any]) -> bool:
    spec = RulesSpec(rules=[make_rule(matcher)], default=Response(output="miss"))
    return answer_rules(spec, make_context(args)).output == "hit"


def test_answer_static_text():
    assert answer_static(StaticSpec(output="sunny")).output == "sunny"


def test_answer_static_json_value_encoded():
    answer = answer_static(StaticSpec(output={"temp_c": 19, "sky": "klar"}, is_error=False))
    assert json.loads(answer.output) == {"temp_c": 19, "sky": "klar"}
    assert answer_static(StaticSpec(output=True)).output == "true"


def test_answer_static_error_flag():
    answer = answer_static(StaticSpec(output="down for maintenance", is_error=True))
    assert (answer.output, answer.is_error) == ("down for maintenance", True)


def test_answer_static_template_syntax_sent_literally():
    assert answer_static(StaticSpec(output="{{ args.city }}")).output == "{{ args.city }}"


def test_static_spec_unknown_field_refused():
    with pytest.raises(ValidationError):
        StaticSpec.model_validate({"output": "x", "iserror": True})


@pytest.mark.parametrize(
    ("value", "args", "expected"),
    [
        ("Oslo", {"city": "Oslo"}, True),
        ("Oslo", {"city": "Bergen"}, False),
        (1, {"n": 1.0}, True),
        ("1", {"n": 1}, False),
        (1, {"n": True}, False),
    ],
)
def test_match_equals_json_values(value: Any, args: dict[str, Any], expected: bool):
    path = next(iter(args))
    assert matches(Matcher(kind="equals", path=path, value=value), args) is expected


def test_match_equals_nested_path_and_index():
    args = {"address": {"zip": "0150"}, "items": [{"sku": "A"}, {"sku": "B"}]}
    assert matches(Matcher(kind="equals", path="address.zip", value="0150"), args)
    assert matches(Matcher(kind="equals", path="items.1.sku", value="B"), args)
    assert not matches(Matcher(kind="equals", path="items.2.sku", value="B"), args)


def test_match_equals_whole_args():
    assert matches(Matcher(kind="equals", path="", value={"city": "Oslo"}), {"city": "Oslo"})


def test_match_equals_missing_path_never_matches():
    assert not matches(Matcher(kind="equals", path="country", value=None), {"city": "Oslo"})


def test_match_regex_on_string_and_not():
    assert matches(Matcher(kind="regex", path="city", value="^O"), {"city": "Oslo"})
    assert not matches(Matcher(kind="regex", path="city", value="^O"), {"city": "Bergen"})


def test_match_regex_on_non_string_uses_json_text():
    assert matches(Matcher(kind="regex", path="code", value=r"^4\d\d$"), {"code": 404})
    assert matches(Matcher(kind="regex", path="ok", value="^true$"), {"ok": True})


def test_match_jmespath_truthy_and_not():
    matcher = Matcher(kind="jmespath", value="length(items) > `2`")
    assert matches(matcher, {"items": [1, 2, 3]})
    assert not matches(matcher, {"items": [1]})


def test_match_jmespath_zero_is_true_and_empty_list_false():
    assert matches(Matcher(kind="jmespath", value="count"), {"count": 0})
    assert not matches(Matcher(kind="jmespath", value="items"), {"items": []})


def test_match_any_always():
    assert matches(Matcher(kind="any"), {})


def test_answer_rules_first_match_wins():
    spec = RulesSpec(
        rules=[
            make_rule(Matcher(kind="regex", path="city", value="^B"), output="first"),
            make_rule(Matcher(kind="equals", path="city", value="Bergen"), output="second"),
        ]
    )
    answer = answer_rules(spec, make_context({"city": "Bergen"}))
    assert (answer.output, answer.note) == ("first", "rule 1 (regex on city)")


def test_answer_rules_empty_when_always_matches():
    spec = RulesSpec(rules=[make_rule(name="catch-all")])
    assert answer_rules(spec, make_context()).note == "rule 1 (catch-all)"


def test_answer_rules_renders_json_response():
    spec = RulesSpec(rules=[make_rule(Matcher(kind="any"), output={"place": "{{ args.city }}", "temp_c": 4})])
    assert json.loads(answer_rules(spec, make_context()).output) == {"place": "Oslo", "temp_c": 4}


def test_answer_rules_default_when_nothing_matches():
    spec = RulesSpec(
        rules=[make_rule(Matcher(kind="equals", path="city", value="Oslo"))],
        default=Response(output="no forecast for {{ args.city }}", is_error=True),
    )
    answer = answer_rules(spec, make_context({"city": "Bergen"}))
    assert answer == type(answer)(output="no forecast for Bergen", is_error=True, note="default")


def test_answer_rules_no_default_names_nearest_rule_and_argument():
    spec = RulesSpec(
        rules=[
            make_rule(
                Matcher(kind="equals", path="city", value="Paris"), Matcher(kind="equals", path="units", value="F")
            ),
            make_rule(
                Matcher(kind="equals", path="city", value="Oslo"),
                Matcher(kind="equals", path="units", value="C"),
                name="Oslo",
            ),
        ]
    )
    answer = answer_rules(spec, make_context({"city": "Bergen", "units": "C"}))
    assert answer.is_error
    assert (
        answer.output
        == "no rule matched the arguments; nearest is rule 2 (Oslo), 1 of 2 conditions match: city: expected 'Oslo', got 'Bergen'"
    )


def test_answer_rules_no_rules_no_default():
    answer = answer_rules(RulesSpec(), make_context())
    assert (answer.is_error, answer.output) == (True, "no rule matched the arguments (there are no rules)")


def test_nearest_rule_reports_missing_and_each_matcher():
    spec = RulesSpec(
        rules=[
            make_rule(
                Matcher(kind="equals", path="city", value="Oslo"), Matcher(kind="regex", path="country", value="NO")
            )
        ]
    )
    near = nearest_rule(spec, {"city": "Oslo"})
    assert near is not None
    assert [(c.matched, c.text) for c in near.checks] == [
        (True, "city: expected 'Oslo', got 'Oslo'"),
        (False, "country: missing"),
    ]
    assert (near.matched, near.total) == (1, 2)


def test_nearest_rule_ties_pick_first():
    spec = RulesSpec(
        rules=[
            make_rule(Matcher(kind="equals", path="a", value=1)),
            make_rule(Matcher(kind="equals", path="a", value=2)),
        ]
    )
    near = nearest_rule(spec, {"a": 3})
    assert near is not None and near.rule_index == 0


def test_answer_rules_bad_regex_is_error_answer_naming_rule():
    spec = RulesSpec(rules=[make_rule(Matcher(kind="regex", path="city", value="(unclosed"), name="broken")])
    answer = answer_rules(spec, make_context())
    assert answer.is_error
    assert answer.output.startswith("rule 1 (broken): bad regex '(unclosed'")


def test_answer_rules_jmespath_runtime_error_is_error_answer():
    spec = RulesSpec(rules=[make_rule(Matcher(kind="jmespath", value="length(city) > `1` && abs(city)"))])
    answer = answer_rules(spec, make_context())
    assert answer.is_error and "rule 1 (jmespath): JMESPath" in answer.output


def test_answer_rules_template_failure_is_error_answer():
    spec = RulesSpec(rules=[make_rule(Matcher(kind="any"), output="{{ args.country }}")])
    answer = answer_rules(spec, make_context())
    assert answer.is_error
    assert answer.output.startswith("rule 1 (any): template failed: line 1: undefined value")


def test_check_rules_bad_regex_and_jmespath_name_rule():
    spec = RulesSpec(
        rules=[
            make_rule(Matcher(kind="equals", path="city", value="Oslo")),
            make_rule(Matcher(kind="any"), Matcher(kind="regex", path="city", value="[a-"), name="regex one"),
            make_rule(Matcher(kind="jmespath", value="items[?"), name="jmes one"),
        ]
    )
    problems = check_rules(spec)
    assert [(p.rule_index, p.field) for p in problems] == [(1, "when[1].value"), (2, "when[0].value")]
    assert problems[0].text.startswith("rule 2 (regex one), when[1].value: bad regex '[a-'")
    assert problems[1].text.startswith("rule 3 (jmes one), when[0].value: bad JMESPath expression 'items[?'")


def test_check_rules_pattern_not_a_string():
    problems = check_rules(RulesSpec(rules=[make_rule(Matcher(kind="regex", path="n", value=5))]))
    assert problems[0].message == "regex needs a non-empty string, got 5"


def test_check_rules_template_syntax_in_response_and_default():
    spec = RulesSpec(
        rules=[make_rule(output={"text": "ok\n{% if %}"}, name="t")],
        default=Response(output="{{ unclosed"),
    )
    problems = check_rules(spec)
    assert [(p.rule_index, p.field) for p in problems] == [(0, "response.output.text"), (None, "default.output")]
    assert problems[0].text.startswith("rule 1 (t), response.output.text: line 2: ")


def test_check_rules_clean_spec_is_empty():
    spec = RulesSpec(rules=[make_rule(Matcher(kind="regex", path="city", value="^O"), output="{{ args.city }}")])
    assert check_rules(spec) == []


def test_rule_from_answer_round_trip_with_template_syntax():
    args = {"city": "Oslo", "options": {"units": "C", "days": [1, 2]}, "limit": 3}
    output = "Use {{ name }} and {% raw %} or {# x #} {{{ }}} {\n\r\n{% endraw %} end\n"
    rule = rule_from_answer(tool_name="get_weather", args=args, output=output, is_error=False)
    spec = RulesSpec(rules=[rule])
    answer = answer_rules(spec, make_context(args))
    assert (answer.output, answer.is_error) == (output, False)
    assert check_rules(spec) == []


def test_rule_from_answer_survives_json_storage():
    args = {"city": "Oslo"}
    rule = rule_from_answer(tool_name="get_weather", args=args, output="{{x}}", is_error=True)
    stored = RulesSpec.model_validate_json(RulesSpec(rules=[rule]).model_dump_json())
    answer = answer_rules(stored, make_context(args))
    assert (answer.output, answer.is_error) == ("{{x}}", True)


def test_rule_from_answer_other_args_do_not_match():
    rule = rule_from_answer(
        tool_name="get_weather", args={"city": "Oslo", "opts": {"a": 1}}, output="x", is_error=False
    )
    spec = RulesSpec(rules=[rule])
    assert answer_rules(spec, make_context({"city": "Oslo", "opts": {"a": 2}})).is_error
    assert answer_rules(spec, make_context({"city": "Oslo"})).is_error


def test_rule_from_answer_names_and_matchers():
    rule = rule_from_answer(tool_name="get_weather", args={"city": "Oslo", "days": 2}, output="x", is_error=False)
    assert rule.name == "get_weather(city='Oslo', days=2)"
    assert [(m.kind, m.path, m.value) for m in rule.when] == [("equals", "city", "Oslo"), ("equals", "days", 2)]


def test_rule_from_answer_dotted_key_uses_jmespath():
    args = {"a.b": "x`y", "": 1}
    rule = rule_from_answer(tool_name="t", args=args, output="ok", is_error=False)
    assert [m.kind for m in rule.when] == ["jmespath", "jmespath"]
    spec = RulesSpec(rules=[rule])
    assert answer_rules(spec, make_context(args)).output == "ok"
    assert answer_rules(spec, make_context({"a.b": "x", "": 1})).is_error


def test_rules_spec_json_round_trip():
    spec = RulesSpec(
        rules=[make_rule(Matcher(kind="equals", path="city", value="Oslo"), output={"temp_c": 4})],
        default=Response(output="none", is_error=True),
    )
    assert RulesSpec.model_validate(json.loads(spec.model_dump_json())) == spec
