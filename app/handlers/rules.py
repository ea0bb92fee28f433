"""Rules handlers: the first rule whose conditions all match the call's arguments answers it.

A rules spec is stored as JSON (SQLite, exported config files)::

    {"rules": [{"name": "Oslo", "when": [{"kind": "equals", "path": "city", "value": "Oslo"}],
                "response": {"output": {"temp_c": 4}, "is_error": false}}],
     "default": {"output": "no forecast for {{ args.city }}", "is_error": true}}

The matching, the first-match order, the default and the nearest-rule diagnosis are
``app.handlers.rules_core``'s (its docstring lists the matchers), the same code *Export as Python*
writes into its module. Here: the pydantic models that check a spec when it is saved, templates
rendered by ``app.handlers.templates`` (guards, seeded ``fake``), regexes by the ``regex`` library
with a ``REGEX_TIMEOUT_SECONDS`` timeout, the checks the editor shows and *Save as rule*.
Rules are numbered from 1 in every message ("rule 2"); ``index`` fields count from 0.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal, cast

import regex
from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

from app.config import get_settings
from app.handlers import rules_core, rules_regex
from app.handlers.answer import Answer
from app.handlers.regex_check import check_compiles
from app.handlers.rules_core import (
    BadPattern,
    MatcherCheck,
    Nearness,
    RulesJson,
    check_pattern,
    evaluate_rules,
    pattern_error,
    pattern_text,
    rule_label,
    show,
)
from app.handlers.rules_steps import StateTooBig, merged_state
from app.handlers.static import JsonOutput
from app.handlers.templates import TemplateContext, check_template, render

__all__ = [
    "REGEX_TIMEOUT_SECONDS",
    "Matcher",
    "MatcherCheck",
    "Nearness",
    "Response",
    "Rule",
    "RuleProblem",
    "RulesSpec",
    "answer_rules",
    "check_rules",
    "escape_template",
    "nearest_rule",
    "rule_from_answer",
    "rules_json",
    "search_regex",
]


class Matcher(BaseModel):
    """One condition on the arguments: ``kind``, a dotted ``path`` (equals/regex) and a ``value`` (see module doc)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["equals", "regex", "jmespath", "any"]
    path: str = ""
    value: Any = None


class Response(BaseModel):
    """What a rule answers: ``output`` is a template (a string, or a JSON value with string templates inside)."""

    model_config = ConfigDict(extra="forbid")

    output: JsonOutput = ""
    is_error: bool = False


class Rule(BaseModel):
    """A named rule: when every matcher in ``when`` matches, ``response`` is rendered and sent. ``enabled``
    false keeps the rule but skips it; true is left out of the JSON, so a spec saved before the flag existed is
    the same spec (no new version, the same export). ``then``, ``after_end``, ``scope``, ``when_state`` and
    ``set_state``: answers in sequence and the run's state (``app.handlers.rules_steps``); left out of the JSON
    while they are at their defaults."""

    model_config = ConfigDict(extra="forbid")

    name: str = ""
    when: list[Matcher] = []
    response: Response = Response()
    enabled: bool = Field(default=True, exclude_if=lambda on: bool(on))
    then: list[Response] = []
    after_end: Literal["repeat", "cycle", "fail"] = "repeat"
    scope: Literal["run", "all_runs"] = "run"
    when_state: dict[str, JsonOutput] = {}
    set_state: dict[str, JsonOutput] = {}

    @model_serializer(mode="wrap")
    def _without_unused_steps(self, dump: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = dump(self)
        return {key: value for key, value in data.items() if _STEP_DEFAULTS.get(key, _KEEP) != value}


class RulesSpec(BaseModel):
    """Rules tried in order (first match wins); ``default`` answers when none matches (``None``: an error result)."""

    model_config = ConfigDict(extra="forbid")

    rules: list[Rule] = []
    default: Response | None = None


@dataclass(frozen=True)
class RuleProblem:
    """A fault found by ``check_rules``: ``rule_index`` from 0 (``None`` for the default), ``field`` such as
    ``"when[0].value"`` or ``"response.output"``, and ``text``, a sentence naming the rule."""

    rule_index: int | None
    field: str
    message: str
    text: str


def answer_rules(spec: RulesSpec, ctx: TemplateContext) -> Answer:
    """Answer a call with the first matching rule, else the default, else an error naming the nearest rule
    (``rules_core.evaluate_rules``, templates rendered by ``app.handlers.templates``, regexes with a timeout).
    In the calling thread, with no bound on time or memory: the console answers through
    ``app.handlers.rules_pool``, whose workers evaluate the same way.

    Never raises: a bad pattern or a template that fails to render gives an ``is_error``
    answer naming the rule.
    """
    verdict = evaluate_rules(
        rules_json(spec),
        ctx.args,
        render=lambda template: render(template, ctx),
        search=search_regex,
        unparsed=ctx.args_problem,
    )
    return Answer(output=verdict.output, is_error=verdict.is_error, note=verdict.note)


def check_rules(spec: RulesSpec) -> list[RuleProblem]:
    """Every bad regex, bad JMESPath expression and template syntax error, each naming the rule and field.

    A regex with counted repetitions compiles in a process of its own first (``regex_check``): one that takes
    over ``TOOLDESK_TEMPLATE_TIMEOUT`` seconds or ``TOOLDESK_TEMPLATE_MEMORY_MB`` megabytes is a problem too."""
    problems: list[RuleProblem] = []
    limits = get_settings()

    def add(index: int | None, label: str, field: str, message: str) -> None:
        problems.append(RuleProblem(index, field, message, f"{label}, {field}: {message}"))

    for index, rule in enumerate(rules_json(spec)["rules"]):
        label = rule_label(index, rule)
        for m_index, matcher in enumerate(rule["when"]):
            try:
                if matcher["kind"] == "regex":
                    check_compiles(
                        pattern_text(matcher), timeout=limits.template_timeout, memory_mb=limits.template_memory_mb
                    )
                check_pattern(matcher, search_regex)
            except BadPattern as exc:
                add(index, label, f"when[{m_index}].value", str(exc))
        for field, response in [("response", rule["response"])] + [
            (f"then[{n}]", answer) for n, answer in enumerate(rule.get("then") or [])
        ]:
            for problem in check_template(response["output"]):
                add(index, label, _field(f"{field}.output", problem.path), f"line {problem.line}: {problem.message}")
        try:
            merged_state({}, rule.get("set_state") or {})
        except StateTooBig as exc:
            add(index, label, "set_state", str(exc))
    if spec.default is not None:
        for problem in check_template(spec.default.output):
            add(None, "default", _field("default.output", problem.path), f"line {problem.line}: {problem.message}")
    return problems


def nearest_rule(spec: RulesSpec, args: dict[str, Any]) -> Nearness | None:
    """The rule with the most matching matchers (ties: the first), with each matcher's check; ``None`` without rules."""
    return rules_core.nearest_rule(rules_json(spec), args, search=search_regex)


def rule_from_answer(*, tool_name: str, args: dict[str, Any], output: str, is_error: bool) -> Rule:
    """ "Save as rule": a rule matching exactly these arguments (one equals matcher per top-level argument,
    nested values compared whole) whose response renders back to exactly ``output``."""
    when = [_equals_top_level(key, value) for key, value in args.items()]
    shown = ", ".join(f"{key}={show(value)}" for key, value in args.items())
    name = f"{tool_name}({shown})"
    if len(name) > 80:
        name = name[:79] + "…"
    return Rule(name=name, when=when, response=Response(output=escape_template(output), is_error=is_error))


def escape_template(text: str) -> str:
    """A template that renders to exactly ``text``: ``{{``, ``{%``, ``{#`` and ``\\r`` (which Jinja would
    turn into ``\\n``) become expressions printing themselves."""
    return _TEMPLATE_SYNTAX.sub(lambda m: "{{ " + json.dumps(m.group(0)) + " }}", text)


def search_regex(pattern: str, text: str) -> bool:
    """A ``rules_core.Search`` with the ``regex`` library, giving up after ``REGEX_TIMEOUT_SECONDS``
    (``TimeoutError``); ``BadPattern`` when the pattern does not compile. Compiled patterns are cached."""
    try:
        return _compile_regex(pattern).search(text, timeout=REGEX_TIMEOUT_SECONDS, concurrent=True) is not None
    except TimeoutError:
        raise TimeoutError(f"took over {REGEX_TIMEOUT_SECONDS:g} s") from None


_STEP_DEFAULTS: dict[str, Any] = {
    "enabled": True,
    "then": [],
    "after_end": "repeat",
    "scope": "run",
    "when_state": {},
    "set_state": {},
}
_KEEP = object()
REGEX_TIMEOUT_SECONDS = 0.2
"""A regex matcher that backtracks longer than this fails the rule instead of freezing the console."""
_TEMPLATE_SYNTAX = re.compile(r"\{[{%#]|\r")


def rules_json(spec: RulesSpec) -> RulesJson:
    """The spec as the evaluator reads it (and Export as Python writes it): JSON values, every key present."""
    return cast(RulesJson, spec.model_dump(mode="json"))


@lru_cache(maxsize=512)
def _compile_regex(pattern: str) -> Any:
    rules_regex.compile_re(pattern)  # the export runs re: a pattern means the same on both sides, or is refused
    try:
        return regex.compile(pattern)
    except (regex.error, RecursionError, MemoryError, OverflowError) as exc:
        raise pattern_error("regex", pattern, exc) from None


def _equals_top_level(key: str, value: Any) -> Matcher:
    """An equals matcher on one argument; a key a dotted path cannot name ("a.b", "") gets a JMESPath matcher."""
    if key and "." not in key:
        return Matcher(kind="equals", path=key, value=value)
    literal = json.dumps(value, ensure_ascii=False).replace("`", "\\`")
    return Matcher(kind="jmespath", value=f"{json.dumps(key)} == `{literal}`")


def _field(prefix: str, path: str) -> str:
    return f"{prefix}.{path}" if path else prefix
