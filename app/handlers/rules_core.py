"""The rules evaluator: which rule answers a tool call's arguments, and what it answers.

The console (``app.handlers.rules``) and *Export as Python* share this module: the export embeds its
source (``inspect.getsource``) in the module it writes, so it imports only the standard library,
jmespath, nothing from ``app``, and has no ``from __future__`` import (the export places
it below its own imports). A spec is ``RulesJson``, the JSON form of ``RulesSpec``.

The first rule whose matchers (``when``) all match answers; else ``default``; else an error naming
the rule nearest to matching; a rule with ``"enabled": false`` is off. Matchers (an empty ``when`` always matches):

- ``equals``: the value at ``path`` equals ``value`` as JSON values (``1 == 1.0``, ``"1" != 1``,
  ``true != 1``; objects and arrays compare whole).
- ``regex``: the pattern ``value`` (Python's ``re`` syntax: ``rules_regex.compile_re``) is found in the value at
  ``path`` if it is a string, else in its JSON encoding (``42`` -> ``"42"``, ``true`` -> ``"true"``).
- ``jmespath``: the expression ``value`` over the whole ``args`` (``path`` unused) gives a truthy
  result by JMESPath's rules (``false``, ``null``, ``""``, ``[]``, ``{}`` are false; ``0`` is true).
- ``any``: always matches.

``path`` is dotted: ``"city"``, ``"address.zip"``, ``"items.0"``; ``""`` is the whole ``args``. A
missing path never matches. When the call's arguments did not parse (``unparsed`` says why; case C10), a rule
with any matcher other than ``any`` does not match: only ``any`` rules, rules without conditions and the
default can answer such a call. Rules are numbered from 1 in every message ("rule 2").

A rule may also hold ``when_state`` (each key equals the run's ``state`` there; unset is ``null``), answers after
the first (``then``) and ``set_state``: ``app.handlers.rules_steps`` counts and sets them.

What differs between callers is passed in: ``render`` turns a response's output template into
text, and ``search`` runs a regex. The console passes its guarded template sandbox (with ``fake``)
and the ``regex`` library with a timeout; the export passes ``app.handlers.rules_export``'s Jinja2
sandbox and ``rules_regex.search_re`` (the standard ``re``).
"""

import json
from collections.abc import Callable
from functools import lru_cache
from typing import Any, NamedTuple, NotRequired, TypedDict

import jmespath
from jmespath.exceptions import JMESPathError


class MatcherJson(TypedDict):
    """One condition: ``kind`` (equals, regex, jmespath, any), a dotted ``path`` and a ``value``."""

    kind: str
    path: str
    value: Any


class ResponseJson(TypedDict):
    """What a rule answers: ``output``, a template (a string, or a JSON value with string templates inside)."""

    output: Any
    is_error: bool


class RuleJson(TypedDict):
    """A named rule: when every matcher in ``when`` matches, ``response`` is rendered and sent (unless off; more:
    rules_steps)."""

    name: str
    when: list[MatcherJson]
    response: ResponseJson
    enabled: NotRequired[bool]
    when_state: NotRequired[dict[str, Any]]
    then: NotRequired[list[ResponseJson]]
    after_end: NotRequired[str]
    scope: NotRequired[str]
    set_state: NotRequired[dict[str, Any]]


class RulesJson(TypedDict):
    """Rules tried in order; ``default`` answers when none matches (``None``: an error answer). As JSON::

    {"rules": [{"name": "Oslo", "when": [{"kind": "equals", "path": "city", "value": "Oslo"}],
                "response": {"output": {"temp_c": 4}, "is_error": false}}],
     "default": {"output": "no forecast for {{ args.city }}", "is_error": true}}
    """

    rules: list[RuleJson]
    default: ResponseJson | None


class Verdict(NamedTuple):
    """An answer: ``output`` text, ``is_error``, and a ``note`` saying which rule answered ("rule 2 (Oslo)")."""

    output: str
    is_error: bool
    note: str


class MatcherCheck(NamedTuple):
    """One matcher of the nearest rule: its ``matcher_index`` in ``when``, whether it matched and why not
    ("city: expected 'Oslo', got 'Bergen'")."""

    matcher_index: int
    matched: bool
    text: str


class Nearness(NamedTuple):
    """The rule closest to matching: how many of its matchers matched, each matcher's check, and a short ``text``."""

    rule_index: int
    label: str
    matched: int
    total: int
    checks: tuple[MatcherCheck, ...]
    text: str


class BadPattern(Exception):
    """A matcher's regex or JMESPath expression does not compile, or fails on these arguments."""


Render = Callable[[Any], str]
"""A response's output template -> its text; any exception it raises makes a "template failed" answer, except
``MemoryError``, which ``evaluate_rules`` lets through."""

Search = Callable[[str, str], bool]
"""``(pattern, text)`` -> whether the regex is found; raises ``BadPattern`` when the pattern does not compile and
``TimeoutError`` (its message says after how long: "took over 0.2 s") when it gives up."""


def evaluate_rules(
    spec: RulesJson, args: dict[str, Any], *, render: Render, search: Search, unparsed: str | None = None
) -> Verdict:
    """The first matching rule's rendered (first) response, else the default's, else an error naming the nearest
    rule (no counts, no state: ``rules_steps``). ``unparsed``: why the call's arguments are not a JSON object
    (then ``args`` is ``{}``), or ``None``.

    Raises only ``MemoryError``: a bad pattern or a template that fails to render is an ``is_error`` verdict
    naming the rule.
    """
    chosen = choose_rule(spec, args, search=search, unparsed=unparsed)
    if isinstance(chosen, Verdict):
        return chosen
    if chosen is not None:
        return respond(spec["rules"][chosen]["response"], render, rule_label(chosen, spec["rules"][chosen]))
    assert spec["default"] is not None  # choose_rule picks the default only when there is one
    return respond(spec["default"], render, "default")


def choose_rule(
    spec: RulesJson,
    args: dict[str, Any],
    *,
    search: Search,
    unparsed: str | None = None,
    state: dict[str, Any] | None = None,
) -> int | Verdict | None:
    """The index of the first rule matching ``args`` whose ``when_state`` holds in ``state``, ``None`` for the
    default, or the final ``Verdict`` (a bad pattern, no match). Raises only ``MemoryError``."""
    for index, rule in enumerate(spec["rules"]):
        if not rule.get("enabled", True) or (unparsed is not None and any(m["kind"] != "any" for m in rule["when"])):
            continue  # off, or its conditions read arguments there are none of
        if not state_holds(rule.get("when_state") or {}, state or {}):
            continue
        try:
            matched = all(check_matcher(m, args, search)[0] for m in rule["when"])
        except BadPattern as exc:
            label = rule_label(index, rule)
            return Verdict(f"{label}: {exc}; fix the rule", True, f"{label}: bad pattern")
        if matched:
            return index
    if spec["default"] is not None:
        return None
    if unparsed is not None:
        return Verdict(
            f"the arguments are {unparsed}, so no rule that reads them matched: add a default or an `any` rule",
            True,
            "arguments did not parse",
        )
    near = nearest_rule(spec, args, search=search)
    tail = f"; nearest is {near.text}" if near else " (there are no rules)"
    if near and not state_holds(spec["rules"][near.rule_index].get("when_state") or {}, state or {}):
        tail += f", but its when_state does not hold in the run's state {show(state or {})}"
    return Verdict(f"no rule matched the arguments{tail}", True, "no rule matched")


def nearest_rule(spec: RulesJson, args: dict[str, Any], *, search: Search) -> Nearness | None:
    """The enabled rule with the most matching matchers (ties: the first), with its checks; ``None`` without one."""
    best: Nearness | None = None
    for index, rule in enumerate(spec["rules"]):
        if not rule.get("enabled", True):
            continue
        checks = tuple(_safe_check(i, m, args, search) for i, m in enumerate(rule["when"]))
        matched = sum(c.matched for c in checks)
        if best is None or matched > best.matched:
            label = rule_label(index, rule)
            misses = "; ".join(c.text for c in checks if not c.matched) or "all conditions match"
            text = f"{label}, {matched} of {len(checks)} conditions match: {misses}"
            best = Nearness(index, label, matched, len(checks), checks, text)
    return best


def check_matcher(matcher: MatcherJson, args: Any, search: Search) -> tuple[bool, str]:
    """Whether one matcher matches ``args``, and why not; raises ``BadPattern`` for a pattern that cannot run."""
    kind, value = matcher["kind"], matcher["value"]
    if kind == "any":
        return True, "any"
    if kind == "jmespath":
        try:
            result = _jmespath(pattern_text(matcher)).search(args)
        except JMESPathError as exc:
            raise BadPattern(f"JMESPath {value!r} failed: {exc}") from None
        return _truthy(result), f"`{value}` is {show(result)}"
    where = matcher["path"] or "args"
    actual = _lookup(args, matcher["path"])
    if actual is _MISSING:
        return False, f"{where}: missing"
    if kind == "equals":
        return _json_equal(actual, value), f"{where}: expected {show(value)}, got {show(actual)}"
    if kind != "regex":
        raise BadPattern(f"unknown matcher kind {kind!r}: use equals, regex, jmespath or any")
    text = actual if isinstance(actual, str) else json.dumps(actual, ensure_ascii=False)
    pattern = pattern_text(matcher)
    try:
        found = search(pattern, text)
    except TimeoutError as exc:
        raise BadPattern(f"regex {pattern!r} {exc} on {where}: simplify it (nested repetition backtracks)") from None
    return found, f"{where}: {show(actual)} does not match /{value}/"


def check_pattern(matcher: MatcherJson, search: Search) -> None:
    """Raise ``BadPattern`` when a regex or JMESPath matcher's pattern does not compile (a regex is tried on "")."""
    if matcher["kind"] == "jmespath":
        _jmespath(pattern_text(matcher))
    elif matcher["kind"] == "regex":
        search(pattern_text(matcher), "")


def pattern_text(matcher: MatcherJson) -> str:
    """A regex or JMESPath matcher's ``value``; ``BadPattern`` unless it is a non-empty string."""
    value = matcher["value"]
    if not isinstance(value, str) or not value:
        raise BadPattern(f"{matcher['kind']} needs a non-empty string, got {show(value)}")
    return value


def pattern_error(kind: str, pattern: str, exc: BaseException) -> BadPattern:
    """The ``BadPattern`` for a ``kind`` ("regex", "jmespath") pattern whose compiling raised ``exc``."""
    if isinstance(exc, RecursionError | MemoryError | OverflowError):
        return BadPattern(f"{kind} {show(pattern)[:60]} is too deeply nested or too large to compile")
    name = "regex" if kind == "regex" else "JMESPath expression"
    return BadPattern(f"bad {name} {pattern!r}: {exc}")


def rule_label(index: int, rule: RuleJson) -> str:
    """ "rule 2 (Oslo)" when named, else "rule 2 (regex on city)" from its matchers."""
    if rule["name"]:
        return f"rule {index + 1} ({rule['name']})"
    parts = [
        m["kind"] if m["kind"] in ("any", "jmespath") else f"{m['kind']} on {m['path'] or 'args'}" for m in rule["when"]
    ]
    return f"rule {index + 1} ({', '.join(parts) or 'always'})"


def show(value: Any) -> str:
    """A short display of a JSON value: strings quoted 'like this', others as JSON, cut at 60 characters."""
    text = repr(value) if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:59] + "…"


_MISSING = object()


def state_holds(wanted: dict[str, Any], state: dict[str, Any]) -> bool:
    """Whether every key of ``wanted`` equals (as JSON values) the run's ``state`` there; a key not set is ``null``."""
    return all(_json_equal(state.get(key), value) for key, value in wanted.items())


def respond(response: ResponseJson, render: Render, label: str) -> Verdict:
    """``response`` rendered, or an ``is_error`` verdict naming ``label`` when its template fails."""
    try:
        return Verdict(render(response["output"]), response["is_error"], label)
    except MemoryError:
        raise  # the caller's memory limit, not the template's fault alone: the caller words it
    except Exception as exc:
        return Verdict(f"{label}: template failed: {exc}", True, f"{label}: template failed")


def _safe_check(index: int, matcher: MatcherJson, args: Any, search: Search) -> MatcherCheck:
    try:
        return MatcherCheck(index, *check_matcher(matcher, args, search))
    except BadPattern as exc:
        return MatcherCheck(index, False, str(exc))


@lru_cache(maxsize=512)
def _jmespath(expression: str) -> Any:
    try:
        return jmespath.compile(expression)
    except (JMESPathError, RecursionError, MemoryError, OverflowError) as exc:
        raise pattern_error("jmespath", expression, exc) from None


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
