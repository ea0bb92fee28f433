"""Export as Python: one agent's handlers as a standalone module for the platform SDK.

``export_python`` writes the source of a module that needs neither Tooldesk nor its database. It
defines one ``async def <tool>(args: dict, agent_id: str, task_id: int) -> str`` per handler and
``tools = {"<tool name>": (<Args model or None>, <function>)}``, the shape of CONTRACT.md ("The
handler signature") that the SDK's ``process_webhook_tools`` takes. A handler that raises is an
``is_error`` result with the exception text, so every error answer of the console becomes a
``raise RuntimeError(<output>)``.

Every handler of the agent is exported, whatever its mode (manual, suggest, auto: the mode says
how the console uses the answer, not what the answer is); tools without a handler are listed in
the module's docstring. Per kind:

- static: returns the output (a JSON value is ``json.dumps(..., ensure_ascii=False)``).
- rules: the rules as a Python literal of their JSON, and a private evaluator with the matching of
  ``app.handlers.rules`` (equals, regex, jmespath, any; dotted paths) and templates rendered by
  Jinja2's ``SandboxedEnvironment`` over ``args``, ``agent_id``, ``task_id``, ``round`` (always 0:
  the SDK does not pass it), ``results`` (always ``{}``) and ``now``; ``fake`` is not available.
  Without a match or a default it raises "no rule matched the arguments; nearest is ...".
- python: the snippet's source, kept byte for byte as a string, runs as its own module (built with
  ``types.ModuleType`` and ``exec``) when the exported module is imported. Indenting it into a
  function instead would change multi-line string literals in it, break ``from __future__`` and
  ``import *``, and trip over tab indentation; as a module, ``import`` lines, ``class Args`` and
  helper functions work exactly as written and never collide with another snippet's names. The
  pair's first element is the snippet's ``Args`` (a pydantic model) when it defines one; args are
  validated with it and passed to ``handle`` as a dict, as the console's sandbox does.
- behaviour: waits ``latency_ms`` (or a random time up to ``latency_max_ms``) with
  ``asyncio.sleep``, then raises ``RuntimeError(fail_message)`` with probability ``fail_probability``.

Function names are the tool names when those are Python identifiers that shadow nothing the
module uses; otherwise a safe name is derived (``get-weather`` -> ``get_weather``), while the key
in ``tools`` stays the exact tool name.
"""

from __future__ import annotations

import ast
import builtins
import json
import keyword
import re
import sys
import textwrap
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Engine

from app.db import read_session
from app.errors import HandlerInvalid, NotFound
from app.handlers.faults import Behaviour
from app.handlers.rules import RulesSpec
from app.handlers.static import StaticSpec
from app.models import Agent, HandlerPublic
from app.services import handler_store
from app.states import HandlerKind

_WIDTH = 100  # literals longer than this are spread over several lines


def export_python(*, engine: Engine, agent_id: str) -> str:
    """The source of a Python module answering ``agent_id``'s tools as its handlers do (see the module
    docstring). Raises ``NotFound`` when the agent has no handler, ``HandlerInvalid`` when a stored
    handler no longer checks out."""
    rows = handler_store.list_handlers(engine=engine, agent_id=agent_id)
    if not rows:
        raise NotFound(f"agent {agent_id} has no handlers to export: add one to a tool of it first")
    with read_session(engine) as session:
        agent = session.get(Agent, agent_id)
    name = agent.name if agent is not None else None
    tool_names = [str(tool.get("name", "")) for tool in agent.tools] if agent is not None else []
    return _Module(agent_id=agent_id, agent_name=name, agent_tools=tool_names, handlers=rows).source()


def python_module_name(*, engine: Engine, agent_id: str) -> str:
    """The module name the export's docstring imports from, e.g. ``clock_tools`` (save it as that plus ``.py``)."""
    with read_session(engine) as session:
        agent = session.get(Agent, agent_id)
    return _module_name(agent.name if agent is not None else None, agent_id)


@dataclass
class _Module:
    agent_id: str
    agent_name: str | None
    agent_tools: list[str]
    handlers: list[HandlerPublic]
    imports: set[str] = field(default_factory=set)
    blocks: list[str] = field(default_factory=list)  # top-level statements, two blank lines apart
    entries: list[str] = field(default_factory=list)
    packages: dict[str, set[str]] = field(default_factory=dict)

    def source(self) -> str:
        names = _function_names([h.tool_name for h in self.handlers])
        kinds = {h.kind for h in self.handlers}
        behaviours = [_behaviour(h) for h in self.handlers]
        if any(_active(b) for b in behaviours):
            self.imports |= {"import asyncio", "import random"}
            self.blocks.append(_BEHAVIOUR_HELPER.strip())
        if HandlerKind.RULES in kinds:
            self.imports |= _RULES_IMPORTS
            self.blocks.append(_RULES_HELPER.strip())
            self._need("jinja2", "rules handlers")
            self._need("jmespath", "rules handlers")
        if HandlerKind.PYTHON in kinds:
            self.imports |= _SNIPPET_IMPORTS
            self.blocks.append(_SNIPPET_HELPER.strip())
        for handler, fname, behaviour in zip(self.handlers, names, behaviours, strict=True):
            self._add_handler(handler, fname, behaviour)
        self.blocks.append("tools = {\n" + "\n".join(self.entries) + "\n}")
        text = self._header()
        if imports := self._import_block():
            text += "\n\n" + imports
        # the formatters' spacing: two blank lines before a def or class, else one
        text += "\n\n\n" if self.blocks[0].startswith(("def ", "async def ", "class ")) else "\n\n"
        return text + "\n\n\n".join(self.blocks) + "\n"

    def _add_handler(self, handler: HandlerPublic, fname: str, behaviour: Behaviour) -> None:
        about = f"{handler.kind.capitalize()} handler of {_plain(handler.tool_name)}, version {handler.version}"
        doc = f'"""{about} (mode {handler.mode} in Tooldesk)."""'
        lines = [f"async def {fname}(args: dict, agent_id: str, task_id: int) -> str:", f"    {doc}"]
        if _active(behaviour):
            values = [
                behaviour.latency_ms,
                behaviour.latency_max_ms,
                behaviour.fail_probability,
                behaviour.fail_message,
            ]
            lines.append(f"    await _behave({', '.join(_text_or_repr(v) for v in values)})")
        model = "None"
        if handler.kind == HandlerKind.STATIC:
            lines.append(self._static(handler, fname))
        elif handler.kind == HandlerKind.RULES:
            lines.append(self._rules(handler, fname))
        else:
            lines.append(self._python(handler, fname))
            model = f"_ARGS_{fname}"
        self.blocks.append("\n".join(lines))
        self.entries.append(f"    {_string(handler.tool_name)}: ({model}, {fname}),")

    def _static(self, handler: HandlerPublic, fname: str) -> str:
        spec = _checked(handler, lambda: StaticSpec.model_validate(handler.spec))
        if isinstance(spec.output, str):
            value = _string(spec.output)
        else:
            self.imports.add("import json")
            self.blocks.append(f"_OUTPUT_{fname} = {_literal(spec.output)}")
            value = f"json.dumps(_OUTPUT_{fname}, ensure_ascii=False)"
        return f"    raise RuntimeError({value})" if spec.is_error else f"    return {value}"

    def _rules(self, handler: HandlerPublic, fname: str) -> str:
        spec = _checked(handler, lambda: RulesSpec.model_validate(handler.spec))
        self.blocks.append(f"_RULES_{fname} = {_literal(spec.model_dump(mode='json'))}")
        return f"    return _answer_rules(_RULES_{fname}, args, agent_id, task_id)"

    def _python(self, handler: HandlerPublic, fname: str) -> str:
        code = handler.spec.get("code")
        if not isinstance(code, str) or not code.strip():
            raise HandlerInvalid(f"{_plain(handler.tool_name)}: the python handler has no code: save it again")
        for package in _third_party_imports(code):
            self._need(package, f"python handler {_plain(handler.tool_name)}")
        self.blocks.append(
            f"_SOURCE_{fname} = {_source_literal(code)}\n"
            f"_ARGS_{fname}, _HANDLE_{fname} = _load_snippet({_string(handler.tool_name)}, _SOURCE_{fname})"
        )
        return f"    return await _run_snippet(_ARGS_{fname}, _HANDLE_{fname}, args, agent_id, task_id)"

    def _need(self, package: str, why: str) -> None:
        self.packages.setdefault(package, set()).add(why)

    def _header(self) -> str:
        module = _module_name(self.agent_name, self.agent_id)
        who = f"{_plain(self.agent_name)} ({_plain(self.agent_id)})" if self.agent_name else _plain(self.agent_id)
        when = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        covered = {h.tool_name for h in self.handlers}
        missing = [_plain(name) for name in self.agent_tools if name and name not in covered]
        if self.packages:
            needs = "; ".join(f"{name} ({', '.join(sorted(why))})" for name, why in sorted(self.packages.items()))
        else:
            needs = "nothing beyond the standard library"
        lines = [
            *_wrap(f"Tool handlers of the agent {who}, exported from Tooldesk on {when}."),
            "",
            "Handlers (all of the agent's, whatever their mode in Tooldesk):",
            *(f"- {_plain(h.tool_name)}: {h.kind}, version {h.version}, mode {h.mode}" for h in self.handlers),
        ]
        if missing:
            lines += ["", *_wrap(f"Tools without a handler (not exported): {', '.join(missing)}.")]
        lines += [
            "",
            f"Save as {module}.py and give ``tools`` to the platform SDK's process_webhook_tools:",
            "",
            f"    from {module} import tools",
            "",
            "    # tools[tool name] == (args model or None, async handler(args, agent_id, task_id) -> str);",
            "    # a handler that raises becomes an is_error result with the exception text.",
            "",
            *_wrap(f"Needs Python 3.11+ and: {needs}."),
        ]
        if HandlerKind.RULES in {h.kind for h in self.handlers}:
            lines += [
                "Rules templates see args, agent_id, task_id, round (always 0), results (always {}) and now;",
                "`fake` exists only inside Tooldesk.",
            ]
        return '"""' + "\n".join(lines) + '\n"""'

    def _import_block(self) -> str:
        third_party = ("jinja2", "jmespath")
        stdlib = [i for i in self.imports if not i.split()[1].startswith(third_party)]
        third = [i for i in self.imports if i.split()[1].startswith(third_party)]
        return "\n\n".join(block for block in (_isort(stdlib), _isort(third)) if block)


def _wrap(text: str) -> list[str]:
    return textwrap.wrap(text, width=_WIDTH, break_on_hyphens=False) or [""]


def _active(behaviour: Behaviour) -> bool:
    return bool(behaviour.latency_ms or behaviour.latency_max_ms or behaviour.fail_probability)


def _text_or_repr(value: Any) -> str:
    return _string(value) if isinstance(value, str) else repr(value)


def _string(text: str) -> str:
    """A string literal, double-quoted unless that needs more escapes (the formatters' preference)."""
    literal = repr(text)
    if literal.startswith("'") and '"' not in literal[1:-1]:
        return '"' + literal[1:-1] + '"'
    return literal


def _checked(handler: HandlerPublic, build: Any) -> Any:
    try:
        return build()
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"]) or "spec"
        raise HandlerInvalid(f"{_plain(handler.tool_name)}: {where}: {error['msg']}: save the handler again") from None


def _behaviour(handler: HandlerPublic) -> Behaviour:
    return _checked(handler, lambda: Behaviour.model_validate(handler.behaviour))


def _isort(lines: list[str]) -> str:
    """``import x`` lines before ``from x import y`` lines, each group sorted (ruff's isort order)."""
    plain = sorted((line for line in lines if line.startswith("import ")), key=str.lower)
    froms = sorted((line for line in lines if line.startswith("from ")), key=lambda line: line.split()[1])
    return "\n".join(plain + froms)


# Names the generated module uses itself: a tool function must not shadow them.
_RESERVED = {
    "annotations",
    "asyncio",
    "inspect",
    "json",
    "jmespath",
    "linecache",
    "random",
    "re",
    "sys",
    "types",
    "datetime",
    "lru_cache",
    "Any",
    "UTC",
    "JMESPathError",
    "SandboxedEnvironment",
    "StrictUndefined",
    "tools",
    *dir(builtins),
}


def _function_names(tool_names: list[str]) -> list[str]:
    """A distinct Python identifier for every tool: the tool name when usable, else a sanitised one."""
    taken: set[str] = set()
    names = []
    for tool in tool_names:
        base = re.sub(r"\W", "_", tool)
        if not base.isidentifier() or not base.isascii():
            base = re.sub(r"[^0-9A-Za-z_]", "_", tool)
        if not base or base[0].isdigit() or base.startswith("_"):
            base = "tool_" + base.lstrip("_")
        if keyword.iskeyword(base) or keyword.issoftkeyword(base) or base in _RESERVED:
            base += "_tool"
        name, n = base, 2
        while name in taken:
            name, n = f"{base}_{n}", n + 1
        taken.add(name)
        names.append(name)
    return names


def _module_name(agent_name: str | None, agent_id: str) -> str:
    base = re.sub(r"[^0-9a-z]+", "_", (agent_name or "").lower()).strip("_")
    if not base:
        base = "agent_" + re.sub(r"[^0-9a-z]+", "", agent_id.lower())[:8]
    if base[0].isdigit():
        base = "agent_" + base
    return f"{base}_tools"


def _plain(text: str | None) -> str:
    """Text safe inside a docstring or comment: no line breaks, quotes or backslashes."""
    cleaned = "".join(ch if ch.isprintable() else " " for ch in text or "")
    return cleaned.replace("\\", "/").replace('"', "'")


def _literal(value: Any, indent: int = 0) -> str:
    """A Python literal of a JSON value, spread over lines beyond ``_WIDTH``; ``json.loads`` of the JSON text for
    values without one (NaN, infinities)."""
    try:
        return _pretty(value, indent)
    except ValueError:
        return f"json.loads({json.dumps(value)!r})"


def _pretty(value: Any, indent: int) -> str:
    inline = _inline(value)
    if len(inline) + indent <= _WIDTH or not isinstance(value, dict | list) or not value:
        return inline
    pad = " " * (indent + 4)
    if isinstance(value, dict):
        items = [f"{pad}{_string(key)}: {_pretty(item, indent + 4)}," for key, item in value.items()]
        return "{\n" + "\n".join(items) + "\n" + " " * indent + "}"
    items = [f"{pad}{_pretty(item, indent + 4)}," for item in value]
    return "[\n" + "\n".join(items) + "\n" + " " * indent + "]"


def _inline(value: Any) -> str:
    if isinstance(value, str):
        return _string(value)
    if value is None or isinstance(value, bool | int):
        return repr(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("no Python literal")
        return repr(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_string(str(key))}: {_inline(item)}" for key, item in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_inline(item) for item in value) + "]"
    raise ValueError(f"not a JSON value: {type(value).__name__}")


def _source_literal(code: str) -> str:
    """A string literal equal to ``code``: a triple-quoted block showing the code as written when nothing in
    it needs escaping, else one escaped literal per line."""
    plain = (
        "\\" not in code
        and '"""' not in code
        and not code.endswith('"')
        and all(ch.isprintable() or ch in "\n\t" for ch in code)
    )
    if plain:
        literal = '"""\\\n' + code + '"""'
        if ast.literal_eval(literal) == code:
            return literal
    lines = "\n".join(f"    {_string(line)}" for line in code.splitlines(keepends=True))
    return f"(\n{lines}\n)"


def _third_party_imports(code: str) -> list[str]:
    """Top-level packages a snippet imports that are not in the standard library (for the "Needs" line)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module.split(".")[0])
    return sorted(name for name in found if name not in sys.stdlib_module_names and name != "__future__")


_RULES_IMPORTS = {
    "import json",
    "import re",
    "from datetime import UTC, datetime",
    "from functools import lru_cache",
    "import jmespath",
    "from jinja2 import StrictUndefined",
    "from jinja2.sandbox import SandboxedEnvironment",
    "from jmespath.exceptions import JMESPathError",
}
_SNIPPET_IMPORTS = {
    "import inspect",
    "import json",
    "import linecache",
    "import sys",
    "import types",
    "from typing import Any",
}

_BEHAVIOUR_HELPER = '''

async def _behave(latency_ms: int, latency_max_ms: int | None, fail_probability: float, fail_message: str) -> None:
    """Tooldesk's latency and fault settings: wait, then fail with probability ``fail_probability``."""
    if latency_max_ms is not None and latency_max_ms > latency_ms:
        delay_ms = random.uniform(latency_ms, latency_max_ms)
    else:
        delay_ms = float(latency_ms)
    if delay_ms > 0:
        await asyncio.sleep(delay_ms / 1000)
    if fail_probability > 0 and random.random() < fail_probability:
        raise RuntimeError(fail_message)
'''

_SNIPPET_HELPER = '''

def _load_snippet(tool_name: str, source: str) -> tuple[Any, Any]:
    """Run a python handler's source as a module of its own; returns (its pydantic ``Args`` or None, ``handle``)."""
    safe = "".join(ch if ch.isalnum() else "_" for ch in tool_name)
    filename = f"<tooldesk handler {tool_name}>"
    module = types.ModuleType(f"{__name__}._handler_{safe}")
    module.__file__ = filename
    sys.modules[module.__name__] = module  # pydantic resolves the snippet's annotations through it
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)  # tracebacks show lines
    exec(compile(source, filename, "exec", dont_inherit=True), module.__dict__)
    handle = getattr(module, "handle", None)
    if not callable(handle):
        raise RuntimeError(f"the python handler of {tool_name} defines no handle function")
    model = getattr(module, "Args", None)
    return (model if isinstance(model, type) and hasattr(model, "model_validate") else None), handle


async def _run_snippet(model: Any, handle: Any, args: Any, agent_id: str, task_id: int) -> str:
    """Validate args with ``Args`` (when defined), call ``handle``, JSON-encode a result that is not a str."""
    if hasattr(args, "model_dump"):
        args = args.model_dump()  # the SDK already validated them into an Args instance
    elif model is not None:
        args = model.model_validate(args).model_dump()
    result = handle(args, agent_id, task_id)
    if inspect.isawaitable(result):
        result = await result
    return result if isinstance(result, str) else json.dumps(result, ensure_ascii=False, allow_nan=False)
'''

_RULES_HELPER = '''

# Rules: the first rule whose conditions ("when") all match answers; else the default; else an error.
# Matching is Tooldesk's: equals (JSON equality: 1 == 1.0, "1" != 1, true != 1), regex (re.search on the
# string, or on the JSON text of other values), jmespath (truthy result over the whole args), any.
# Paths are dotted ("city", "address.zip", "items.0"; "" is all of args); a missing path never matches.
# Templates render with Jinja2's sandbox; `fake` (Faker) exists only inside Tooldesk.

_MISSING = object()
_TEMPLATES = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
_TEMPLATES.globals.pop("lipsum", None)
_TEMPLATES.filters["fromjson"] = json.loads


class _BadPatternError(Exception):
    """A rule's regex or JMESPath expression cannot run."""


def _answer_rules(spec: dict, args: dict, agent_id: str, task_id: int) -> str:
    """The output of the first matching rule or the default; raises RuntimeError for an error answer."""
    for index, rule in enumerate(spec["rules"]):
        try:
            matched = all(_check(matcher, args)[0] for matcher in rule["when"])
        except _BadPatternError as exc:
            raise RuntimeError(f"{_rule_label(index, rule)}: {exc}; fix the rule") from None
        if matched:
            return _respond(rule["response"], args, agent_id, task_id, _rule_label(index, rule))
    if spec.get("default") is not None:
        return _respond(spec["default"], args, agent_id, task_id, "default")
    raise RuntimeError("no rule matched the arguments" + _nearest(spec, args))


def _respond(response: dict, args: dict, agent_id: str, task_id: int, label: str) -> str:
    variables = {
        "args": args,
        "agent_id": agent_id,
        "task_id": task_id,
        "round": 0,  # the SDK does not pass the round
        "results": {},  # nor the task's earlier tool results
        "now": datetime.now(UTC),
    }
    try:
        output = _render(response["output"], variables)
    except Exception as exc:
        raise RuntimeError(f"{label}: template failed: {type(exc).__name__}: {exc}") from None
    if response["is_error"]:
        raise RuntimeError(output)
    return output


def _render(template: object, variables: dict) -> str:
    """A string template renders to text; a JSON value has each string inside rendered, then is JSON-encoded."""
    if isinstance(template, str):
        return _template(template).render(variables)
    return json.dumps(_render_value(template, variables), ensure_ascii=False)


def _render_value(template: object, variables: dict) -> object:
    if isinstance(template, str):
        return _template(template).render(variables)
    if isinstance(template, dict):
        return {key: _render_value(value, variables) for key, value in template.items()}
    if isinstance(template, list):
        return [_render_value(value, variables) for value in template]
    return template


@lru_cache(maxsize=256)
def _template(source: str):
    return _TEMPLATES.from_string(source)


def _check(matcher: dict, args: dict) -> tuple[bool, str]:
    """Whether one matcher matches, and why not; raises _BadPatternError for a pattern that cannot run."""
    kind, path, value = matcher["kind"], matcher["path"], matcher["value"]
    if kind == "any":
        return True, "any"
    if kind == "jmespath":
        try:
            result = jmespath.search(value, args)
        except JMESPathError as exc:
            raise _BadPatternError(f"JMESPath {value!r} failed: {exc}") from None
        return _truthy(result), f"`{value}` is {_show(result)}"
    where = path or "args"
    actual = _lookup(args, path)
    if actual is _MISSING:
        return False, f"{where}: missing"
    if kind == "equals":
        return _json_equal(actual, value), f"{where}: expected {_show(value)}, got {_show(actual)}"
    text = actual if isinstance(actual, str) else json.dumps(actual, ensure_ascii=False)
    try:
        found = re.search(value, text) is not None
    except re.error as exc:
        raise _BadPatternError(f"bad regex {value!r}: {exc}") from None
    return found, f"{where}: {_show(actual)} does not match /{value}/"


def _nearest(spec: dict, args: dict) -> str:
    """ "; nearest is rule 2 (Oslo), 1 of 2 conditions match: ..." naming the rule closest to matching."""
    best = None
    for index, rule in enumerate(spec["rules"]):
        checks = []
        for matcher in rule["when"]:
            try:
                checks.append(_check(matcher, args))
            except _BadPatternError as exc:
                checks.append((False, str(exc)))
        matched = sum(ok for ok, _ in checks)
        if best is None or matched > best[0]:
            misses = "; ".join(text for ok, text in checks if not ok) or "all conditions match"
            best = (matched, f"{_rule_label(index, rule)}, {matched} of {len(checks)} conditions match: {misses}")
    return f"; nearest is {best[1]}" if best else " (there are no rules)"


def _rule_label(index: int, rule: dict) -> str:
    if rule["name"]:
        return f"rule {index + 1} ({rule['name']})"
    parts = [
        m["kind"] if m["kind"] in ("any", "jmespath") else f"{m['kind']} on {m['path'] or 'args'}" for m in rule["when"]
    ]
    return f"rule {index + 1} ({', '.join(parts) or 'always'})"


def _lookup(args: object, path: str) -> object:
    value = args
    for part in path.split(".") if path else ():
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isascii() and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return _MISSING
    return value


def _truthy(value: object) -> bool:
    return value is not False and value is not None and value not in ("", [], {})


def _json_equal(a: object, b: object) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def _show(value: object) -> str:
    text = repr(value) if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:59] + "…"
'''
