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
- rules: the rules as a Python literal of their JSON, answered by the console's own evaluator: the
  source of ``app.handlers.rules_core``, ``rules_regex``, ``rules_steps`` and ``rules_export`` is pasted in as it is
  (``rules_export.answer_for_sdk``: templates in Jinja2's ``SandboxedEnvironment`` over ``args``,
  ``agent_id``, ``task_id``, ``round`` (always 0: the SDK does not pass it), ``results`` (always
  ``{}``) and ``now``; ``fake`` is not available; regexes with ``re``, without the console's
  timeout). Without a match or a default it raises "no rule matched the arguments; nearest is ...".
  Sequences and run state (``rules_steps``) are counted in the module's memory, per tool and run.
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

import builtins
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

from pydantic import ValidationError
from sqlalchemy import Engine

from app.db import read_session
from app.errors import HandlerInvalid, NotFound, field_problem
from app.handlers import rules_core, rules_export, rules_regex, rules_steps
from app.handlers.faults import Behaviour
from app.handlers.rules import RulesSpec
from app.handlers.static import StaticSpec
from app.models import Agent, HandlerPublic
from app.services import handler_store
from app.services.export_text import (
    embedded,
    function_names,
    json_literal,
    module_name,
    plain,
    sort_imports,
    source_literal,
    string_literal,
    text_or_repr,
    third_party_imports,
    wrap,
)
from app.states import HandlerKind

_T = TypeVar("_T")


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
    return module_name(agent.name if agent is not None else None, agent_id)


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
        names = function_names([h.tool_name for h in self.handlers], _RESERVED)
        kinds = {h.kind for h in self.handlers}
        behaviours = [_behaviour(h) for h in self.handlers]
        if any(_active(b) for b in behaviours):
            self.imports |= {"import asyncio", "import random"}
            self.blocks.append(_BEHAVIOUR_HELPER.strip())
        if HandlerKind.RULES in kinds:
            for part in _RULES_EVALUATOR:
                self.imports |= part.imports
                self.blocks.append(part.body)
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
        about = f"{handler.kind.capitalize()} handler of {plain(handler.tool_name)}, version {handler.version}"
        doc = f'"""{about} (mode {handler.mode} in Tooldesk)."""'
        lines = [f"async def {fname}(args: dict, agent_id: str, task_id: int) -> str:", f"    {doc}"]
        if _active(behaviour):
            values = [
                behaviour.latency_ms,
                behaviour.latency_max_ms,
                behaviour.fail_probability,
                behaviour.fail_message,
            ]
            lines.append(f"    await _behave({', '.join(text_or_repr(v) for v in values)})")
        model = "None"
        if handler.kind == HandlerKind.STATIC:
            lines.append(self._static(handler, fname))
        elif handler.kind == HandlerKind.RULES:
            lines.append(self._rules(handler, fname))
        else:
            lines.append(self._python(handler, fname))
            model = f"_ARGS_{fname}"
        self.blocks.append("\n".join(lines))
        self.entries.append(f"    {string_literal(handler.tool_name)}: ({model}, {fname}),")

    def _static(self, handler: HandlerPublic, fname: str) -> str:
        spec = _checked(handler, lambda: StaticSpec.model_validate(handler.spec))
        if isinstance(spec.output, str):
            value = string_literal(spec.output)
        else:
            self.imports.add("import json")
            self.blocks.append(f"_OUTPUT_{fname} = {json_literal(spec.output)}")
            value = f"json.dumps(_OUTPUT_{fname}, ensure_ascii=False)"
        return f"    raise RuntimeError({value})" if spec.is_error else f"    return {value}"

    def _rules(self, handler: HandlerPublic, fname: str) -> str:
        spec = _checked(handler, lambda: RulesSpec.model_validate(handler.spec))
        self.blocks.append(f"_RULES_{fname} = {json_literal(spec.model_dump(mode='json'))}")
        return (
            f"    return answer_for_sdk(_RULES_{fname}, args, agent_id, task_id, {string_literal(handler.tool_name)})"
        )

    def _python(self, handler: HandlerPublic, fname: str) -> str:
        code = handler.spec.get("code")
        if not isinstance(code, str) or not code.strip():
            raise HandlerInvalid(f"{plain(handler.tool_name)}: the python handler has no code: save it again")
        for package in third_party_imports(code):
            self._need(package, f"python handler {plain(handler.tool_name)}")
        self.blocks.append(
            f"_SOURCE_{fname} = {source_literal(code)}\n"
            f"_ARGS_{fname}, _HANDLE_{fname} = _load_snippet({string_literal(handler.tool_name)}, _SOURCE_{fname})"
        )
        return f"    return await _run_snippet(_ARGS_{fname}, _HANDLE_{fname}, args, agent_id, task_id)"

    def _need(self, package: str, why: str) -> None:
        self.packages.setdefault(package, set()).add(why)

    def _header(self) -> str:
        module = module_name(self.agent_name, self.agent_id)
        who = f"{plain(self.agent_name)} ({plain(self.agent_id)})" if self.agent_name else plain(self.agent_id)
        when = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        covered = {h.tool_name for h in self.handlers}
        missing = [plain(name) for name in self.agent_tools if name and name not in covered]
        if self.packages:
            needs = "; ".join(f"{name} ({', '.join(sorted(why))})" for name, why in sorted(self.packages.items()))
        else:
            needs = "nothing beyond the standard library"
        lines = [
            *wrap(f"Tool handlers of the agent {who}, exported from Tooldesk on {when}."),
            "",
            "Handlers (all of the agent's, whatever their mode in Tooldesk):",
            *(f"- {plain(h.tool_name)}: {h.kind}, version {h.version}, mode {h.mode}" for h in self.handlers),
        ]
        if missing:
            lines += ["", *wrap(f"Tools without a handler (not exported): {', '.join(missing)}.")]
        lines += [
            "",
            f"Save as {module}.py and give ``tools`` to the platform SDK's process_webhook_tools:",
            "",
            f"    from {module} import tools",
            "",
            "    # tools[tool name] == (args model or None, async handler(args, agent_id, task_id) -> str);",
            "    # a handler that raises becomes an is_error result with the exception text.",
            "",
            *wrap(f"Needs Python 3.11+ and: {needs}."),
        ]
        if HandlerKind.RULES in {h.kind for h in self.handlers}:
            lines += [
                "Rules templates see args, agent_id, task_id, round (always 0), results (always {}) and now;",
                "`fake` exists only inside Tooldesk, and regexes run with re, without its timeout.",
                "Sequences (call_count) and the run's state are kept in this process's memory.",
            ]
        return '"""' + "\n".join(lines) + '\n"""'

    def _import_block(self) -> str:
        third_party = ("jinja2", "jmespath")
        stdlib = [i for i in self.imports if not i.split()[1].startswith(third_party)]
        third = [i for i in self.imports if i.split()[1].startswith(third_party)]
        return "\n\n".join(block for block in (sort_imports(stdlib), sort_imports(third)) if block)


def _active(behaviour: Behaviour) -> bool:
    return bool(behaviour.latency_ms or behaviour.latency_max_ms or behaviour.fail_probability)


def _checked(handler: HandlerPublic, build: Callable[[], _T]) -> _T:
    try:
        return build()
    except ValidationError as exc:
        raise HandlerInvalid(
            f"{plain(handler.tool_name)}: {field_problem(exc, where='spec')}: save the handler again"
        ) from None


def _behaviour(handler: HandlerPublic) -> Behaviour:
    return _checked(handler, lambda: Behaviour.model_validate(handler.behaviour))


# Names the generated module uses itself: a tool function must not shadow them.
_RESERVED = {
    *("annotations", "asyncio", "inspect", "json", "linecache", "random", "sys", "types", "Any", "tools"),
    *vars(rules_core),
    *vars(rules_regex),
    *vars(rules_steps),
    *vars(rules_export),
    *dir(builtins),
}
_RULES_EVALUATOR = tuple(embedded(module) for module in (rules_core, rules_regex, rules_steps, rules_export))
"""The console's rules evaluator, sequences and state, and the SDK's answer, pasted into a module with rules
handlers, in that order."""


_SNIPPET_IMPORTS = {f"import {name}" for name in ("inspect", "json", "linecache", "sys", "types")} | {
    "from typing import Any"
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
