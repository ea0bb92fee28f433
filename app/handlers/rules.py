"""Rules handlers: the first rule whose conditions all match the call's arguments answers it.

A rules spec is stored as JSON (SQLite, exported config files)::

    {"rules": [{"name": "Oslo", "when": [{"kind": "equals", "path": "city", "value": "Oslo"}],
                "response": {"output": {"temp_c": 4}, "is_error": false}}],
     "default": {"output": "no forecast for {{ args.city }}", "is_error": true}}

Matchers (``when``; all must match, an empty list always matches):

- ``equals``: the value at ``path`` equals ``value`` as JSON values: ``1 == 1.0``,
  ``"1" != 1``, ``true != 1``; objects and arrays compare whole.
- ``regex``: ``regex.search(value, text)`` (the ``regex`` library, with a 0.2 s timeout) where text is the value at ``path`` if it is a
  string, else its JSON encoding (``42`` -> ``"42"``, ``true`` -> ``"true"``).
- ``jmespath``: the expression ``value`` over the whole ``args`` (``path`` unused);
  matches when the result is truthy by JMESPath's rules (``false``, ``null``, ``""``,
  ``[]`` and ``{}`` are false; ``0`` is true).
- ``any``: always matches.

``path`` is dotted: ``"city"``, ``"address.zip"``, ``"items.0"``; ``""`` is the whole
``args``. A missing path never matches. Responses are templates (``app.handlers.templates``).
Rules are numbered from 1 in every message ("rule 2"); ``index`` fields count from 0.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import jmespath
import regex
from jmespath.exceptions import JMESPathError
from pydantic import BaseModel, ConfigDict

from app.handlers.answer import Answer
from app.handlers.static import JsonOutput
from app.handlers.templates import TemplateContext, TemplateError, check_template, render


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
    """A named rule: when every matcher in ``when`` matches, ``response`` is rendered and sent."""

    model_config = ConfigDict(extra="forbid")

    name: str = ""
    when: list[Matcher] = []
    response: Response = Response()


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


@dataclass(frozen=True)
class MatcherCheck:
    """One matcher of the nearest rule: whether it matched and why not ("city: expected 'Oslo', got 'Bergen'")."""

    index: int
    matched: bool
    text: str


@dataclass(frozen=True)
class Nearness:
    """The rule closest to matching: how many of its matchers matched, each matcher's check, and a short ``text``."""

    rule_index: int
    label: str
    matched: int
    total: int
    checks: tuple[MatcherCheck, ...]
    text: str


def answer_rules(spec: RulesSpec, ctx: TemplateContext) -> Answer:
    """Answer a call with the first matching rule, else the default, else an error naming the nearest rule.

    Never raises: a bad pattern or a template that fails to render gives an ``is_error``
    answer naming the rule.
    """
    for index, rule in enumerate(spec.rules):
        try:
            matched = all(_check(m, ctx.args).matched for m in rule.when)
        except _BadPattern as exc:
            label = _label(index, rule)
            return Answer(output=f"{label}: {exc}; fix the rule", is_error=True, note=f"{label}: bad pattern")
        if matched:
            return _respond(rule.response, ctx, _label(index, rule))
    if spec.default is not None:
        return _respond(spec.default, ctx, "default")
    near = nearest_rule(spec, ctx.args)
    tail = f"; nearest is {near.text}" if near else " (there are no rules)"
    return Answer(output=f"no rule matched the arguments{tail}", is_error=True, note="no rule matched")


def check_rules(spec: RulesSpec) -> list[RuleProblem]:
    """Every bad regex, bad JMESPath expression and template syntax error, each naming the rule and field."""
    problems: list[RuleProblem] = []

    def add(index: int | None, label: str, field: str, message: str) -> None:
        problems.append(RuleProblem(index, field, message, f"{label}, {field}: {message}"))

    for index, rule in enumerate(spec.rules):
        label = _label(index, rule)
        for m_index, matcher in enumerate(rule.when):
            try:
                _compile(matcher)
            except _BadPattern as exc:
                add(index, label, f"when[{m_index}].value", str(exc))
        for problem in check_template(rule.response.output):
            add(index, label, _field("response.output", problem.path), f"line {problem.line}: {problem.message}")
    if spec.default is not None:
        for problem in check_template(spec.default.output):
            add(None, "default", _field("default.output", problem.path), f"line {problem.line}: {problem.message}")
    return problems


def nearest_rule(spec: RulesSpec, args: dict[str, Any]) -> Nearness | None:
    """The rule with the most matching matchers (ties: the first), with each matcher's check; ``None`` without rules."""
    best: Nearness | None = None
    for index, rule in enumerate(spec.rules):
        checks = tuple(_safe_check(i, m, args) for i, m in enumerate(rule.when))
        matched = sum(c.matched for c in checks)
        if best is None or matched > best.matched:
            label = _label(index, rule)
            misses = "; ".join(c.text for c in checks if not c.matched) or "all conditions match"
            text = f"{label}, {matched} of {len(checks)} conditions match: {misses}"
            best = Nearness(index, label, matched, len(checks), checks, text)
    return best


def rule_from_answer(*, tool_name: str, args: dict[str, Any], output: str, is_error: bool) -> Rule:
    """ "Save as rule": a rule matching exactly these arguments (one equals matcher per top-level argument,
    nested values compared whole) whose response renders back to exactly ``output``."""
    when = [_equals_top_level(key, value) for key, value in args.items()]
    shown = ", ".join(f"{key}={_show(value)}" for key, value in args.items())
    name = f"{tool_name}({shown})"
    if len(name) > 80:
        name = name[:79] + "…"
    return Rule(name=name, when=when, response=Response(output=escape_template(output), is_error=is_error))


def escape_template(text: str) -> str:
    """A template that renders to exactly ``text``: ``{{``, ``{%``, ``{#`` and ``\\r`` (which Jinja would
    turn into ``\\n``) become expressions printing themselves."""
    return _TEMPLATE_SYNTAX.sub(lambda m: "{{ " + json.dumps(m.group(0)) + " }}", text)


_TEMPLATE_SYNTAX = re.compile(r"\{[{%#]|\r")
_MISSING = object()


REGEX_TIMEOUT_SECONDS = 0.2
"""A regex matcher that backtracks longer than this fails the rule instead of freezing the console."""


class _BadPattern(Exception):
    """A matcher's regex or JMESPath expression does not compile, or fails on these arguments."""


@dataclass(frozen=True)
class _Check:
    matched: bool
    text: str


def _respond(response: Response, ctx: TemplateContext, label: str) -> Answer:
    try:
        return Answer(output=render(response.output, ctx), is_error=response.is_error, note=label)
    except TemplateError as exc:
        return Answer(output=f"{label}: template failed: {exc}", is_error=True, note=f"{label}: template failed")


def _label(index: int, rule: Rule) -> str:
    """ "rule 2 (Oslo)" when named, else "rule 2 (regex on city)" from its matchers."""
    if rule.name:
        return f"rule {index + 1} ({rule.name})"
    parts = [m.kind if m.kind in ("any", "jmespath") else f"{m.kind} on {m.path or 'args'}" for m in rule.when]
    return f"rule {index + 1} ({', '.join(parts) or 'always'})"


def _check(matcher: Matcher, args: dict[str, Any]) -> _Check:
    """Whether one matcher matches; raises ``_BadPattern`` for a pattern that cannot run."""
    if matcher.kind == "any":
        return _Check(True, "any")
    if matcher.kind == "jmespath":
        try:
            result = _compile(matcher).search(args)
        except JMESPathError as exc:
            raise _BadPattern(f"JMESPath {matcher.value!r} failed: {exc}") from None
        return _Check(_truthy(result), f"`{matcher.value}` is {_show(result)}")
    where = matcher.path or "args"
    actual = _lookup(args, matcher.path)
    if actual is _MISSING:
        return _Check(False, f"{where}: missing")
    if matcher.kind == "equals":
        return _Check(
            _json_equal(actual, matcher.value), f"{where}: expected {_show(matcher.value)}, got {_show(actual)}"
        )
    text = actual if isinstance(actual, str) else json.dumps(actual, ensure_ascii=False)
    try:
        found = _compile(matcher).search(text, timeout=REGEX_TIMEOUT_SECONDS, concurrent=True) is not None
    except TimeoutError:
        raise _BadPattern(
            f"regex {matcher.value!r} took over {REGEX_TIMEOUT_SECONDS:g} s on {where}: "
            "simplify it (nested repetition backtracks)"
        ) from None
    return _Check(found, f"{where}: {_show(actual)} does not match /{matcher.value}/")


def _safe_check(index: int, matcher: Matcher, args: dict[str, Any]) -> MatcherCheck:
    try:
        check = _check(matcher, args)
    except _BadPattern as exc:
        return MatcherCheck(index, False, str(exc))
    return MatcherCheck(index, check.matched, check.text)


def _compile(matcher: Matcher) -> Any:
    """The compiled regex or JMESPath expression of a matcher (cached); ``_BadPattern`` when it does not compile."""
    if matcher.kind not in ("regex", "jmespath"):
        return None
    if not isinstance(matcher.value, str) or not matcher.value:
        raise _BadPattern(f"{matcher.kind} needs a non-empty string, got {_show(matcher.value)}")
    return _compile_text(matcher.kind, matcher.value)


@lru_cache(maxsize=512)
def _compile_text(kind: str, value: str) -> Any:
    try:
        return regex.compile(value) if kind == "regex" else jmespath.compile(value)
    except regex.error as exc:
        raise _BadPattern(f"bad regex {value!r}: {exc}") from None
    except (RecursionError, MemoryError, OverflowError):
        raise _BadPattern(f"{kind} {_show(value)[:60]} is too deeply nested or too large to compile") from None
    except JMESPathError as exc:
        raise _BadPattern(f"bad JMESPath expression {value!r}: {exc}") from None


def _lookup(args: Any, path: str) -> Any:
    """The value at a dotted path (object keys; array indexes as digits), or ``_MISSING``."""
    value = args
    for part in path.split(".") if path else ():
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isascii() and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return _MISSING
    return value


def _truthy(value: Any) -> bool:
    """JMESPath truthiness: false, null, "", [] and {} are false; everything else (0 too) is true."""
    return value is not False and value is not None and value not in ("", [], {})


def _json_equal(a: Any, b: Any) -> bool:
    """Equality of JSON values: numbers by value (1 == 1.0), but booleans only equal booleans, strings only strings."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def _equals_top_level(key: str, value: Any) -> Matcher:
    """An equals matcher on one argument; a key a dotted path cannot name ("a.b", "") gets a JMESPath matcher."""
    if key and "." not in key:
        return Matcher(kind="equals", path=key, value=value)
    literal = json.dumps(value, ensure_ascii=False).replace("`", "\\`")
    return Matcher(kind="jmespath", value=f"{json.dumps(key)} == `{literal}`")


def _field(prefix: str, path: str) -> str:
    return f"{prefix}.{path}" if path else prefix


def _show(value: Any) -> str:
    """A short display of a JSON value: strings quoted 'like this', others as JSON, cut at 60 characters."""
    text = repr(value) if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:59] + "…"
