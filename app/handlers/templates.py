"""Rendering response templates (Jinja2, sandboxed) for rules handlers.

A template is either a string (rendered to text) or a JSON value (a dict or list
whose every string *value* is rendered; keys and non-string values stay as they
are; the result is JSON-encoded). Variables a template sees:

=============  ================================================================
``args``       the tool call's arguments (a dict)
``agent_id``   the agent's UUID (str)
``task_id``    the run's task id (int)
``round``      the tool round, 1 for the first (int)
``results``    earlier tool results of the same task by tool name, as strings;
               when a tool was called several times the last result wins
``now``        the current time, a timezone-aware UTC ``datetime``
               (``{{ now.isoformat() }}``, ``{{ now.strftime('%H:%M') }}``)
``fake``       a Faker instance seeded with ``ctx.seed``: ``{{ fake.name() }}``
               gives the same name for the same seed
``call_count`` this rule's count of calls in its scope, from 1 (0 when not
               counted: ``app.handlers.rules_steps``)
``state``      the run's state, a small JSON object that rules set
=============  ================================================================

Filters beyond Jinja's built-ins: ``tojson`` (built in: ``{{ args | tojson }}``)
and ``fromjson`` (``{{ (results.get_weather | fromjson).temp_c }}``).

Templates are written by the console's user; the arguments come from a model. The
sandbox blocks attribute escapes (``''.__class__``) and the guards here stop the
usual accidents: ``range()`` over 100,000 items (or 1,000,000 in all per render),
``*``/``**`` building huge values, output over 200,000 characters. Rendering runs
in the caller's thread and a determined author can still write a slow or huge template,
so the console renders only in ``app.handlers.rules_pool``'s worker processes, which
bound each call's time and memory.
"""

from __future__ import annotations

import functools
import json
import re
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from faker import Faker
from jinja2 import StrictUndefined, Template, TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment

from app.errors import TooldeskError

COMPILED_KEEP = 256
"""Compiled templates kept per process (``_compile``), the least recently used going first."""
MAX_OUTPUT_CHARS = 200_000
MAX_RANGE = 100_000
MAX_RANGE_TOTAL = 1_000_000
MAX_EXPONENT = 1_000
_TEMPLATE_FILE = "<template>"


class TemplateError(TooldeskError):
    """A template failed to render; the message names the problem and its line ("line 3: 'city' is undefined")."""

    status = 422
    code = "template_error"


@dataclass(frozen=True)
class TemplateContext:
    """Everything a template can see (see the module docstring); ``now`` is UTC, ``seed`` seeds ``fake``."""

    args: dict[str, Any]
    agent_id: str
    task_id: int
    round: int
    results: dict[str, str]
    now: datetime
    seed: int
    args_problem: str | None = None
    """Why the call's arguments are not a JSON object (``args`` is then ``{}``), or ``None`` (case C10)."""
    call_count: int = 0
    """The answering rule's count of calls in its scope, from 1; 0 when the spec counts nothing."""
    state: dict[str, Any] | None = None
    """The run's state the rule was matched on (``None``: ``{}``)."""


@dataclass(frozen=True)
class TemplateProblem:
    """A syntax error found without rendering: ``path`` is where the string sits in a JSON template
    ("" for a string template, else e.g. "data.items.0"), ``line`` is 1-based inside that string."""

    path: str
    line: int
    message: str

    @property
    def text(self) -> str:
        where = f"{self.path}, " if self.path else ""
        return f"{where}line {self.line}: {self.message}"


def render(template: Any, ctx: TemplateContext) -> str:
    """Render ``template`` (a string, or a JSON value with string templates inside) to the output text.

    Raises ``TemplateError`` for syntax errors, undefined variables, sandbox violations,
    oversized ranges or values, and output over ``MAX_OUTPUT_CHARS`` characters.
    """
    if isinstance(template, str):
        return _Render(ctx).text(template, "")
    rendered = _Render(ctx).value(template, "")
    out = json.dumps(rendered, ensure_ascii=False)
    if len(out) > MAX_OUTPUT_CHARS:
        raise TemplateError(f"output is {len(out)} characters (limit {MAX_OUTPUT_CHARS}): shorten the template")
    return out


def check_template(template: Any) -> list[TemplateProblem]:
    """Syntax errors in ``template`` (string or JSON value), without rendering; ``[]`` when it parses."""
    problems: list[TemplateProblem] = []
    for path, source in _strings(template, ""):
        try:
            _ENV.parse(source)
        except TemplateSyntaxError as exc:
            problems.append(TemplateProblem(path=path, line=exc.lineno, message=exc.message or str(exc)))
    return problems


_spare: list[Faker] = []


def prepare_faker() -> None:
    """Build the Faker the next render that uses ``fake`` will take (about 1 ms), unless one is waiting: a rules
    worker calls this after each reply, while it has nothing else to do, so a call does not wait on it. Each render
    still gets a Faker no render used before (a template may call its methods, ``add_provider`` among them)."""
    if not _spare:
        _spare.append(Faker())


def _take_faker() -> Faker:
    """The spare Faker ``prepare_faker`` built, else a new one."""
    return _spare.pop() if _spare else Faker()


class _Render:
    """One render: the variables (with a freshly seeded Faker if the template uses one) and the range budget."""

    def __init__(self, ctx: TemplateContext) -> None:
        self.ctx = ctx
        self.range_left = MAX_RANGE_TOTAL
        self._fake: Faker | None = None

    def value(self, template: Any, path: str) -> Any:
        if isinstance(template, str):
            return self.text(template, path)
        if isinstance(template, dict):
            return {k: self.value(v, _join(path, k)) for k, v in template.items()}
        if isinstance(template, list):
            return [self.value(v, _join(path, str(i))) for i, v in enumerate(template)]
        return template

    def text(self, source: str, path: str) -> str:
        where = f"{path}, " if path else ""
        try:
            compiled = _compile(source)
            chunks: list[str] = []
            size = 0
            for chunk in compiled.generate(self._variables(source)):
                size += len(chunk)
                if size > MAX_OUTPUT_CHARS:
                    raise TemplateError(f"{where}output over {MAX_OUTPUT_CHARS} characters: shorten the template")
                chunks.append(chunk)
            return "".join(chunks)
        except (TemplateError, MemoryError):
            raise
        except TemplateSyntaxError as exc:
            raise TemplateError(f"{where}line {exc.lineno}: syntax error: {exc.message}") from None
        except Exception as exc:  # the template is user code: any failure becomes a TemplateError
            line = _template_line(exc)
            at = f"line {line}: " if line else ""
            raise TemplateError(f"{where}{at}{_describe(exc)}") from None

    def _variables(self, source: str) -> dict[str, Any]:
        ctx = self.ctx
        variables: dict[str, Any] = {
            "args": ctx.args,
            "agent_id": ctx.agent_id,
            "task_id": ctx.task_id,
            "round": ctx.round,
            "results": ctx.results,
            "now": ctx.now,
            "call_count": ctx.call_count,
            "state": ctx.state or {},
            "range": self._range,
        }
        if "fake" in source:  # building a Faker costs ~1 ms; most templates do without
            if self._fake is None:
                self._fake = _take_faker()
                self._fake.seed_instance(ctx.seed)
            variables["fake"] = self._fake
        return variables

    def _range(self, *bounds: int) -> Iterator[int]:
        items = range(*bounds)
        if len(items) > MAX_RANGE:
            raise _Refused(f"range of {len(items)} items (limit {MAX_RANGE}): use a smaller range")
        self.range_left -= len(items)
        if self.range_left < 0:
            raise _Refused(f"ranges of more than {MAX_RANGE_TOTAL} items in all: loop less")
        return iter(items)


class _Refused(Exception):
    """A guard refused an operation while rendering (turned into a ``TemplateError``)."""


class _Environment(SandboxedEnvironment):
    """The sandbox, plus size checks on ``*`` and ``**`` (Jinja routes intercepted operators here)."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, int | float) and abs(right) > MAX_EXPONENT:
            raise _Refused(f"exponent {right} is over {MAX_EXPONENT}: use a smaller power")
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if (
                    isinstance(seq, str | list | tuple)
                    and isinstance(times, int)
                    and len(seq) * times > MAX_OUTPUT_CHARS
                ):
                    raise _Refused(f"repeating a value {times} times makes it over {MAX_OUTPUT_CHARS} long")
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        """Refuse string methods that would build a value over the output limit before building it."""
        owner = getattr(__obj, "__self__", None)
        name = getattr(__obj, "__name__", "")
        if isinstance(owner, str) and name in _GROWING:
            _check_growth(owner, name, args, kwargs)
        return super().call(__context, __obj, *args, **kwargs)


_GROWING = frozenset({"replace", "ljust", "rjust", "center", "zfill", "expandtabs", "format", "format_map", "join"})
_WIDTH = re.compile(r"\d{6,}")


def _check_growth(text: str, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Worst-case length of ``text.<name>(*args)``; ``_Refused`` when it is over ``MAX_OUTPUT_CHARS``."""
    if name == "replace" and len(args) >= 2 and isinstance(args[1], str):
        worst = len(text) + len(text) * len(args[1]) + len(args[1])
    elif name in {"ljust", "rjust", "center", "zfill"} and args and isinstance(args[0], int):
        worst = args[0]
    elif name == "expandtabs":
        worst = len(text) * (args[0] if args and isinstance(args[0], int) else 8)
    elif name in {"format", "format_map"}:
        worst = MAX_OUTPUT_CHARS + 1 if _WIDTH.search(text) else 0  # a field width of a million or more
    else:  # join
        worst = sum(len(str(part)) + len(text) for part in (args[0] if args and isinstance(args[0], list) else []))
    if worst > MAX_OUTPUT_CHARS:
        raise _Refused(f"{name}() would make a value of about {worst:,} characters (limit {MAX_OUTPUT_CHARS:,})")


def _fromjson(text: str) -> Any:
    try:
        return json.loads(text)
    except (TypeError, ValueError) as exc:
        raise _Refused(f"fromjson: not JSON ({exc})") from None


_ENV = _Environment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
del _ENV.globals["lipsum"]  # lipsum(n=10**9) would hog the CPU; fake.paragraph() covers the need
_ENV.filters["fromjson"] = _fromjson


@functools.lru_cache(maxsize=COMPILED_KEEP)
def _compile(source: str) -> Template:
    """``source`` compiled once (a syntax error is raised each time, never kept): compiling takes milliseconds, a
    compiled template renders in microseconds, and a rules handler renders the same few templates every call. The
    template holds no state between renders; each render gets its own variables."""
    return _ENV.from_string(source)


def _strings(template: Any, path: str) -> Iterator[tuple[str, str]]:
    """Every string inside a template, with its path ("" for the top, then keys and indexes joined by dots)."""
    if isinstance(template, str):
        yield path, template
    elif isinstance(template, dict):
        for key, value in template.items():
            yield from _strings(value, _join(path, str(key)))
    elif isinstance(template, list):
        for index, value in enumerate(template):
            yield from _strings(value, _join(path, str(index)))


def _join(path: str, part: str) -> str:
    return f"{path}.{part}" if path else part


def _template_line(exc: BaseException) -> int | None:
    """The template line an error was raised on: Jinja rewrites tracebacks so template frames carry it."""
    lines = [frame.lineno for frame in traceback.extract_tb(exc.__traceback__) if frame.filename == _TEMPLATE_FILE]
    return lines[-1] if lines else None


def _describe(exc: BaseException) -> str:
    kind = {
        "UndefinedError": "undefined value",
        "SecurityError": "blocked by the sandbox",
    }.get(type(exc).__name__, type(exc).__name__)
    if isinstance(exc, _Refused):
        return str(exc)
    return f"{kind}: {exc}"
