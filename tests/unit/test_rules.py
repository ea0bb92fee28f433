"""Static answers and rules handlers: matchers, first match, default, nearest rule, checks, save as rule.

Every rules case runs twice, through the console's ``answer_rules`` and through the module *Export as
Python* writes (imported from a file and called as the SDK calls it), and expects the same answer from
both. The console's extras are tested on the console alone: the ``note`` that names the answering rule,
``fake``, and the regex timeout.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
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
from app.handlers.rules_pool import close_rules_pool
from app.handlers.run import CallInput, answer_call
from app.handlers.static import StaticSpec, answer_static
from app.handlers.templates import TemplateContext
from app.services import handler_store
from app.services.export_python import export_python
from app.services.rule_state import StoredMemory
from app.states import HandlerKind

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


# Answers in sequence and the run's state (app.handlers.rules_steps): the console counts in its database, through
# its worker processes (answer_call, as the responder calls it); the export counts in its module's memory.

Call = tuple[str, dict[str, Any], int]
"""One tool call: the tool's name, its arguments and the run's task_id."""


@dataclass(frozen=True)
class Counted:
    """Answers calls one after another with counts and state kept between them; ``side`` is console or export."""

    side: str
    answer: Callable[[dict[str, RulesSpec], list[Call]], list[Reply]]

    def __call__(self, spec: RulesSpec | dict[str, RulesSpec], *calls: Call | int) -> list[Reply]:
        """``spec`` answers the tool get_weather (or a spec per tool); a bare int is a get_weather call in that run
        with the arguments ``{"city": "Oslo"}``."""
        specs = spec if isinstance(spec, dict) else {"get_weather": spec}
        return self.answer(specs, [("get_weather", {"city": "Oslo"}, c) if isinstance(c, int) else c for c in calls])


@pytest.fixture(params=["console", "export"])
def counted(request: pytest.FixtureRequest, exported: ModuleType, tmp_path: Path) -> Counted:
    if request.param == "console":
        engine = make_engine(f"sqlite:///{tmp_path}/counts.db")

        async def console_calls(specs: dict[str, RulesSpec], calls: list[Call]) -> list[Reply]:
            replies = []
            try:
                for n, (tool, args, task_id) in enumerate(calls):
                    call = CallInput(f"call_{n}", tool, args, AGENT_ID, task_id, 1, {})
                    done = await answer_call(
                        kind=HandlerKind.RULES,
                        spec=specs[tool].model_dump(mode="json"),
                        behaviour={},
                        call=call,
                        sandbox=None,
                        memory=lambda c: StoredMemory(engine, c.agent_id, c.tool_name, c.task_id),
                    )
                    replies.append(Reply(done.answer.output, done.answer.is_error))
            finally:
                await close_rules_pool()
            return replies

        return Counted("console", lambda specs, calls: asyncio.run(console_calls(specs, calls)))

    def export_calls(specs: dict[str, RulesSpec], calls: list[Call]) -> list[Reply]:
        exported.MEMORY.clear()
        replies = []
        for tool, args, task_id in calls:
            try:
                output = exported.answer_for_sdk(specs[tool].model_dump(mode="json"), args, AGENT_ID, task_id, tool)
                replies.append(Reply(output, False))
            except RuntimeError as exc:
                replies.append(Reply(str(exc), True))
        return replies

    return Counted("export", export_calls)


def sequence(*outputs: str, after_end: str = "repeat", scope: str = "run", name: str = "seq") -> RulesSpec:
    first, *then = outputs
    rule = Rule(
        name=name,
        response=Response(output=first),
        then=[Response(output=o) for o in then],
        after_end=after_end,  # type: ignore[arg-type]
        scope=scope,  # type: ignore[arg-type]
    )
    return RulesSpec(rules=[rule])


def texts(replies: list[Reply]) -> list[str]:
    return [reply.output for reply in replies]


def test_sequence_second_call_gets_the_second_answer_then_repeats_the_last(counted: Counted):
    replies = counted(sequence("A", "B"), 1, 1, 1, 1)
    assert replies == [Reply("A", False), Reply("B", False), Reply("B", False), Reply("B", False)]


def test_sequence_cycle_starts_again(counted: Counted):
    assert texts(counted(sequence("A", "B", "C", after_end="cycle"), 1, 1, 1, 1, 1)) == ["A", "B", "C", "A", "B"]


def test_sequence_fail_after_the_end_names_rule_and_count(counted: Counted):
    replies = counted(sequence("A", "B", after_end="fail", name="login"), 1, 1, 1)
    assert replies[:2] == [Reply("A", False), Reply("B", False)]
    assert replies[2] == Reply("rule 1 (login) has 2 answer(s) and then fails: this is call 3 in this run", True)


def test_sequence_counted_per_run_starts_again_in_each_run(counted: Counted):
    assert texts(counted(sequence("A", "B"), 1, 2, 1, 2, 3)) == ["A", "A", "B", "B", "A"]


def test_sequence_counted_across_runs_goes_on_in_the_next_run(counted: Counted):
    replies = counted(sequence("A", "B", after_end="fail", scope="all_runs"), 1, 2, 3)
    assert texts(replies[:2]) == ["A", "B"]
    assert replies[2] == Reply("rule 1 (seq) has 2 answer(s) and then fails: this is call 3 across runs", True)


def test_template_sees_call_count_per_rule(counted: Counted):
    spec = RulesSpec(
        rules=[
            make_rule(Matcher(kind="equals", path="city", value="Oslo"), output="Oslo {{ call_count }}"),
            make_rule(output="other {{ call_count }}", name="other"),
        ],
    )
    calls = [("get_weather", {"city": city}, 1) for city in ("Oslo", "Rome", "Oslo", "Rome", "Oslo")]
    assert texts(counted(spec, *calls)) == ["Oslo 1", "other 1", "Oslo 2", "other 2", "Oslo 3"]


def test_default_counts_its_calls_per_run(counted: Counted):
    spec = RulesSpec(default=Response(output="miss {{ call_count }} in {{ task_id }}"))
    assert texts(counted(spec, 1, 1, 2)) == ["miss 1 in 1", "miss 2 in 1", "miss 1 in 2"]


LOGIN = {
    "login": RulesSpec(
        rules=[
            Rule(
                name="login",
                when=[Matcher(kind="regex", path="user", value=".")],
                response=Response(output="welcome {{ args.user }}"),
                set_state={"logged_in": True, "user": "alice"},
            )
        ]
    ),
    "get_profile": RulesSpec(
        rules=[
            Rule(name="in", when_state={"logged_in": True}, response=Response(output="profile of {{ state.user }}")),
            Rule(name="out", when_state={"logged_in": None}, response=Response(output="log in first", is_error=True)),
        ]
    ),
    "logout": RulesSpec(rules=[Rule(name="logout", set_state={"logged_in": None}, response=Response(output="bye"))]),
}


def test_state_set_by_one_tool_is_matched_by_another_in_the_same_run(counted: Counted):
    replies = counted(
        LOGIN,
        ("get_profile", {}, 1),
        ("login", {"user": "alice"}, 1),
        ("get_profile", {}, 1),
        ("get_profile", {}, 2),  # another run: its own state
        ("logout", {}, 1),
        ("get_profile", {}, 1),
    )
    assert replies == [
        Reply("log in first", True),
        Reply("welcome alice", False),
        Reply("profile of alice", False),
        Reply("log in first", True),
        Reply("bye", False),
        Reply("log in first", True),
    ]


def test_when_state_unmet_and_no_default_is_no_match(counted: Counted):
    spec = RulesSpec(rules=[Rule(name="in", when_state={"logged_in": True}, response=Response(output="x"))])
    [reply] = counted(spec, 1)
    assert reply == Reply(
        "no rule matched the arguments; nearest is rule 1 (in), 0 of 0 conditions match: all conditions match, but "
        "its when_state does not hold in the run's state {}",
        True,
    )


def test_template_sees_state_before_its_own_set_state(counted: Counted):
    spec = RulesSpec(rules=[Rule(response=Response(output="{{ state | tojson }}"), set_state={"n": 1})])
    assert texts(counted(spec, 1, 1)) == ["{}", '{"n": 1}']


def test_set_state_past_the_key_limit_is_an_error_and_changes_nothing(counted: Counted):
    """64 keys at most: each call adds one key (its name from call_count would be a template: set_state is plain
    JSON, so 65 rules add one key each)."""
    rules = [
        Rule(name=f"k{n}", when=[Matcher(kind="equals", path="n", value=n)], set_state={f"k{n}": n},
             response=Response(output="{{ state | length }}"))
        for n in range(65)
    ]  # fmt: skip
    calls = [("get_weather", {"n": n}, 1) for n in range(65)] + [("get_weather", {"n": 0}, 1)]
    replies = counted(RulesSpec(rules=rules), *calls)
    assert replies[63] == Reply("63", False)
    assert replies[64] == Reply(
        "rule 65 (k64): set_state would give the run's state 65 keys (limit 64): set less", True
    )
    assert replies[65] == Reply("64", False)  # the refused set_state changed nothing


def test_check_rules_refuses_set_state_past_the_byte_limit():
    spec = RulesSpec(rules=[Rule(name="big", set_state={"blob": "x" * 5000})])
    [problem] = check_rules(spec)
    assert (
        problem.text == "rule 1 (big), set_state: set_state would make the run's state 5012 bytes of JSON (limit 4096)"
    )


def test_check_rules_template_syntax_in_a_later_answer():
    spec = RulesSpec(rules=[Rule(name="s", then=[Response(output="ok"), Response(output="{{ broken")])])
    assert [(p.rule_index, p.field) for p in check_rules(spec)] == [(0, "then[1].output")]


def test_rules_spec_without_sequences_or_state_keeps_its_json():
    """Rules that use none of it are stored and exported as before: the new keys stay out of their JSON."""
    spec = RulesSpec(rules=[make_rule(Matcher(kind="any"))])
    assert spec.model_dump(mode="json")["rules"][0].keys() == {"name", "when", "response"}
    spec = sequence("A", "B", after_end="cycle")
    assert RulesSpec.model_validate(json.loads(spec.model_dump_json())) == spec
