"""Static answers and rules handlers: matchers, first match, default, nearest rule, checks, save as rule.

Every rules case runs twice, through the console's ``answer_rules`` and through the module *Export as
Python* writes (imported from a file and called as the SDK calls it), and expects the same answer from
both. The console's extras are tested on the console alone: the ``note`` that names the answering rule,
``fake``, and the regex timeout.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

import pytest
from pydantic import ValidationError

from app.db import make_engine
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
from app.services import handler_store
from app.services.export_python import export_python

AGENT_ID = "5f0c6b2e-8a4d-4c1e-9a57-2b3f3c4d5e6f"
TASK_ID = 1042


@dataclass(frozen=True)
class Reply:
    """A tool result as the platform receives it: the output text and whether it is an error."""

    output: str
    is_error: bool


@dataclass(frozen=True)
class Evaluator:
    """One of the two evaluators: ``side`` is "console" or "export"."""

    side: str
    answer: Callable[[RulesSpec, dict[str, Any]], Reply]

    def __call__(self, spec: RulesSpec, args: dict[str, Any] | None = None) -> Reply:
        return self.answer(spec, {"city": "Oslo"} if args is None else args)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    """The module Export as Python writes for an agent with a rules handler, imported from its file."""
    folder = tmp_path_factory.mktemp("export")
    engine = make_engine(f"sqlite:///{folder}/export.db")
    handler = handler_store.HandlerIn(agent_id=AGENT_ID, tool_name="get_weather", kind="rules", spec={"rules": []})
    handler_store.save_handler(engine=engine, handler=handler)
    path = folder / "exported_rules_tools.py"
    path.write_text(export_python(engine=engine, agent_id=AGENT_ID), encoding="utf-8")
    spec = importlib.util.spec_from_file_location("exported_rules_tools", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(params=["console", "export"])
def answer(request: pytest.FixtureRequest, exported: ModuleType) -> Evaluator:
    """Answers a rules spec through the console's handler or through the exported module's evaluator."""
    if request.param == "console":

        def console(spec: RulesSpec, args: dict[str, Any]) -> Reply:
            result = answer_rules(spec, make_context(args))
            return Reply(result.output, result.is_error)

        return Evaluator("console", console)

    def export(spec: RulesSpec, args: dict[str, Any]) -> Reply:
        try:
            return Reply(exported.answer_for_sdk(spec.model_dump(mode="json"), args, AGENT_ID, TASK_ID), False)
        except RuntimeError as exc:  # the SDK sends a raising handler's text as an is_error result
            return Reply(str(exc), True)

    return Evaluator("export", export)


def make_context(args: dict[str, Any] | None = None) -> TemplateContext:
    return TemplateContext(
        args={"city": "Oslo"} if args is None else args,
        agent_id=AGENT_ID,
        task_id=TASK_ID,
        round=1,
        results={},
        now=datetime(2026, 11, 29, 17, 0, tzinfo=UTC),
        seed=1,
    )


def make_rule(*when: Matcher, output: Any = "hit", name: str = "") -> Rule:
    return Rule(name=name, when=list(when), response=Response(output=output))


def matches(answer: Evaluator, matcher: Matcher, args: dict[str, Any]) -> bool:
    spec = RulesSpec(rules=[make_rule(matcher)], default=Response(output="miss"))
    return answer(spec, args).output == "hit"


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
def test_match_equals_json_values(answer: Evaluator, value: Any, args: dict[str, Any], expected: bool):
    path = next(iter(args))
    assert matches(answer, Matcher(kind="equals", path=path, value=value), args) is expected


def test_match_equals_nested_path_and_index(answer: Evaluator):
    args = {"address": {"zip": "0150"}, "items": [{"sku": "A"}, {"sku": "B"}]}
    assert matches(answer, Matcher(kind="equals", path="address.zip", value="0150"), args)
    assert matches(answer, Matcher(kind="equals", path="items.1.sku", value="B"), args)
    assert not matches(answer, Matcher(kind="equals", path="items.2.sku", value="B"), args)


def test_match_equals_whole_args(answer: Evaluator):
    assert matches(answer, Matcher(kind="equals", path="", value={"city": "Oslo"}), {"city": "Oslo"})


def test_match_equals_missing_path_never_matches(answer: Evaluator):
    assert not matches(answer, Matcher(kind="equals", path="country", value=None), {"city": "Oslo"})


def test_match_regex_on_string_and_not(answer: Evaluator):
    assert matches(answer, Matcher(kind="regex", path="city", value="^O"), {"city": "Oslo"})
    assert not matches(answer, Matcher(kind="regex", path="city", value="^O"), {"city": "Bergen"})


def test_match_regex_on_non_string_uses_json_text(answer: Evaluator):
    assert matches(answer, Matcher(kind="regex", path="code", value=r"^4\d\d$"), {"code": 404})
    assert matches(answer, Matcher(kind="regex", path="ok", value="^true$"), {"ok": True})


REGEX_LIBRARY_ONLY = [
    (r"^\p{Lu}{3}$", {"city": "OSL"}),
    ("(?:Lisbon){e<=1}", {"city": "Lisbom"}),
    ("^[[:alpha:]]+$", {"city": "Oslo"}),
    (r"^\X+$", {"city": "Oslo"}),
]


@pytest.mark.parametrize(("pattern", "args"), REGEX_LIBRARY_ONLY, ids=["property", "fuzzy", "posix", "grapheme"])
def test_match_regex_beyond_python_re_answers_as_export(exported: ModuleType, pattern: str, args: dict[str, Any]):
    spec = RulesSpec(
        rules=[make_rule(Matcher(kind="regex", path="city", value=pattern))], default=Response(output="miss")
    )
    console = answer_rules(spec, make_context(args))
    try:
        exported_reply = Reply(exported.answer_for_sdk(spec.model_dump(mode="json"), args, AGENT_ID, TASK_ID), False)
    except RuntimeError as exc:
        exported_reply = Reply(str(exc), True)
    assert Reply(console.output, console.is_error) == exported_reply


@pytest.mark.parametrize(("pattern", "args"), REGEX_LIBRARY_ONLY, ids=["property", "fuzzy", "posix", "grapheme"])
def test_check_rules_regex_beyond_python_re_refused(pattern: str, args: dict[str, Any]):
    problems = check_rules(RulesSpec(rules=[make_rule(Matcher(kind="regex", path="city", value=pattern))]))
    assert [p.field for p in problems] == ["when[0].value"]
    assert problems[0].message.startswith(f"bad regex {pattern!r}: ")


def test_match_jmespath_truthy_and_not(answer: Evaluator):
    matcher = Matcher(kind="jmespath", value="length(items) > `2`")
    assert matches(answer, matcher, {"items": [1, 2, 3]})
    assert not matches(answer, matcher, {"items": [1]})


def test_match_jmespath_zero_is_true_and_empty_list_false(answer: Evaluator):
    assert matches(answer, Matcher(kind="jmespath", value="count"), {"count": 0})
    assert not matches(answer, Matcher(kind="jmespath", value="items"), {"items": []})


def test_match_any_always(answer: Evaluator):
    assert matches(answer, Matcher(kind="any"), {})


FIRST_OF_TWO = RulesSpec(
    rules=[
        make_rule(Matcher(kind="regex", path="city", value="^B"), output="first"),
        make_rule(Matcher(kind="equals", path="city", value="Bergen"), output="second"),
    ]
)
OSLO_OR_DEFAULT = RulesSpec(
    rules=[make_rule(Matcher(kind="equals", path="city", value="Oslo"))],
    default=Response(output="no forecast for {{ args.city }}", is_error=True),
)


def test_answer_rules_first_match_wins(answer: Evaluator):
    assert answer(FIRST_OF_TWO, {"city": "Bergen"}) == Reply("first", False)


def test_answer_rules_rule_turned_off_is_skipped(answer: Evaluator):
    spec = FIRST_OF_TWO.model_copy(deep=True)
    spec.rules[0].enabled = False
    assert answer(spec, {"city": "Bergen"}) == Reply("second", False)


def test_rule_turned_off_is_never_the_nearest():
    spec = RulesSpec(
        rules=[
            make_rule(Matcher(kind="equals", path="city", value="Bergen"), name="off"),
            make_rule(Matcher(kind="equals", path="city", value="Oslo"), name="on"),
        ]
    )
    spec.rules[0].enabled = False
    near = nearest_rule(spec, {"city": "Bergen"})
    assert near is not None and near.label == "rule 2 (on)"


def test_rule_enabled_is_left_out_of_json_unless_off():
    rule = make_rule(name="x")
    assert "enabled" not in rule.model_dump(mode="json")
    rule.enabled = False
    assert rule.model_dump(mode="json")["enabled"] is False


def test_answer_rules_empty_when_always_matches(answer: Evaluator):
    assert answer(RulesSpec(rules=[make_rule(name="catch-all")])) == Reply("hit", False)


def test_answer_rules_renders_json_response(answer: Evaluator):
    spec = RulesSpec(rules=[make_rule(Matcher(kind="any"), output={"place": "{{ args.city }}", "temp_c": 4})])
    assert json.loads(answer(spec).output) == {"place": "Oslo", "temp_c": 4}


def test_answer_rules_renders_task_and_agent(answer: Evaluator):
    spec = RulesSpec(rules=[make_rule(output="{{ agent_id[:8] }} {{ task_id }} {{ args | tojson }}")])
    assert answer(spec, {"n": 1}) == Reply('5f0c6b2e 1042 {"n": 1}', False)


def test_answer_rules_default_when_nothing_matches(answer: Evaluator):
    assert answer(OSLO_OR_DEFAULT, {"city": "Bergen"}) == Reply("no forecast for Bergen", True)


@pytest.mark.parametrize(
    ("spec", "args", "note"),
    [
        (FIRST_OF_TWO, {"city": "Bergen"}, "rule 1 (regex on city)"),
        (RulesSpec(rules=[make_rule(name="catch-all")]), {}, "rule 1 (catch-all)"),
        (OSLO_OR_DEFAULT, {"city": "Bergen"}, "default"),
        (RulesSpec(), {}, "no rule matched"),
    ],
)
def test_answer_rules_note_names_what_answered(spec: RulesSpec, args: dict[str, Any], note: str):
    """The note is for the person at the console; the exported module (the SDK's shape) has no place for it."""
    assert answer_rules(spec, make_context(args)).note == note


def test_answer_rules_no_default_names_nearest_rule_and_argument(answer: Evaluator):
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
    assert answer(spec, {"city": "Bergen", "units": "C"}) == Reply(
        "no rule matched the arguments; nearest is rule 2 (Oslo), 1 of 2 conditions match: "
        "city: expected 'Oslo', got 'Bergen'",
        True,
    )


def test_answer_rules_no_rules_no_default(answer: Evaluator):
    assert answer(RulesSpec()) == Reply("no rule matched the arguments (there are no rules)", True)


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


def test_answer_rules_bad_regex_is_error_answer_naming_rule(answer: Evaluator):
    """The message after the pattern is the regex library's: ``regex`` in the console, ``re`` in the export."""
    spec = RulesSpec(rules=[make_rule(Matcher(kind="regex", path="city", value="(unclosed"), name="broken")])
    reply = answer(spec)
    assert reply.is_error
    assert reply.output.startswith("rule 1 (broken): bad regex '(unclosed': ")
    assert reply.output.endswith("; fix the rule")


def test_answer_rules_regex_not_a_string_is_error_answer(answer: Evaluator):
    spec = RulesSpec(rules=[make_rule(Matcher(kind="regex", path="n", value=5))])
    assert answer(spec, {"n": 5}) == Reply(
        "rule 1 (regex on n): regex needs a non-empty string, got 5; fix the rule", True
    )


def test_answer_rules_jmespath_runtime_error_is_error_answer(answer: Evaluator):
    spec = RulesSpec(rules=[make_rule(Matcher(kind="jmespath", value="length(city) > `1` && abs(city)"))])
    reply = answer(spec)
    assert reply.is_error and reply.output.startswith("rule 1 (jmespath): JMESPath 'length(city) > `1` && abs(city)'")


def test_answer_rules_template_failure_is_error_answer(answer: Evaluator):
    """Both name the rule; the console's own template sandbox words the failure differently from plain Jinja2."""
    spec = RulesSpec(rules=[make_rule(Matcher(kind="any"), output="{{ args.country }}")])
    reply = answer(spec)
    detail = {"console": "line 1: undefined value: ", "export": "UndefinedError: "}[answer.side]
    assert reply.is_error
    assert reply.output.startswith(f"rule 1 (any): template failed: {detail}'dict object' has no attribute 'country'")


def test_answer_rules_fake_seeded_in_console():
    spec = RulesSpec(rules=[make_rule(output="{{ fake.random_int(5, 15) }}")])
    answer = answer_rules(spec, make_context())
    assert not answer.is_error and 5 <= int(answer.output) <= 15
    assert answer_rules(spec, make_context()) == answer  # seeded per task and call: the same number again


def test_answer_rules_fake_undefined_in_export(exported: ModuleType):
    """Faker is the console's: the exported module needs only jinja2 and jmespath, so ``fake`` is undefined there."""
    spec = RulesSpec(rules=[make_rule(output="{{ fake.random_int(5, 15) }}")])
    with pytest.raises(RuntimeError) as caught:
        exported.answer_for_sdk(spec.model_dump(mode="json"), {}, AGENT_ID, TASK_ID)
    assert str(caught.value) == "rule 1 (always): template failed: UndefinedError: 'fake' is undefined"


def test_answer_rules_catastrophic_regex_times_out_in_console():
    """The console gives up on a backtracking regex after 0.2 s; the export runs ``re``, which has no timeout."""
    spec = RulesSpec(rules=[make_rule(Matcher(kind="regex", path="s", value="(a|aa)+$"))])
    answer = answer_rules(spec, make_context({"s": "a" * 60 + "b"}))
    assert answer.is_error
    assert answer.output == (
        "rule 1 (regex on s): regex '(a|aa)+$' took over 0.2 s on s: simplify it (nested repetition backtracks); "
        "fix the rule"
    )


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


def test_rule_from_answer_round_trip_with_template_syntax(answer: Evaluator):
    args = {"city": "Oslo", "options": {"units": "C", "days": [1, 2]}, "limit": 3}
    output = "Use {{ name }} and {% raw %} or {# x #} {{{ }}} {\n\r\n{% endraw %} end\n"
    rule = rule_from_answer(tool_name="get_weather", args=args, output=output, is_error=False)
    spec = RulesSpec(rules=[rule])
    assert answer(spec, args) == Reply(output, False)
    assert check_rules(spec) == []


def test_rule_from_answer_survives_json_storage(answer: Evaluator):
    args = {"city": "Oslo"}
    rule = rule_from_answer(tool_name="get_weather", args=args, output="{{x}}", is_error=True)
    stored = RulesSpec.model_validate_json(RulesSpec(rules=[rule]).model_dump_json())
    assert answer(stored, args) == Reply("{{x}}", True)


def test_rule_from_answer_other_args_do_not_match(answer: Evaluator):
    rule = rule_from_answer(
        tool_name="get_weather", args={"city": "Oslo", "opts": {"a": 1}}, output="x", is_error=False
    )
    spec = RulesSpec(rules=[rule])
    assert answer(spec, {"city": "Oslo", "opts": {"a": 2}}).is_error
    assert answer(spec, {"city": "Oslo"}).is_error


def test_rule_from_answer_names_and_matchers():
    rule = rule_from_answer(tool_name="get_weather", args={"city": "Oslo", "days": 2}, output="x", is_error=False)
    assert rule.name == "get_weather(city='Oslo', days=2)"
    assert [(m.kind, m.path, m.value) for m in rule.when] == [("equals", "city", "Oslo"), ("equals", "days", 2)]


def test_rule_from_answer_dotted_key_uses_jmespath(answer: Evaluator):
    args = {"a.b": "x`y", "": 1}
    rule = rule_from_answer(tool_name="t", args=args, output="ok", is_error=False)
    assert [m.kind for m in rule.when] == ["jmespath", "jmespath"]
    spec = RulesSpec(rules=[rule])
    assert answer(spec, args) == Reply("ok", False)
    assert answer(spec, {"a.b": "x", "": 1}).is_error


def test_rules_spec_json_round_trip():
    spec = RulesSpec(
        rules=[make_rule(Matcher(kind="equals", path="city", value="Oslo"), output={"temp_c": 4})],
        default=Response(output="none", is_error=True),
    )
    assert RulesSpec.model_validate(json.loads(spec.model_dump_json())) == spec
