"""Scenario files: the scripted agents the simulator plays, one JSON file each.

A scenario is an agent (what ``GET /v1/agents`` lists) plus a script of tool
rounds. Files live in ``fixtures/scenarios/*.json`` (``DEFAULT_SCENARIOS_DIR``)::

    {
      "agent_id": "0b6c5a8e-2f61-4c3e-9d7a-1a2b3c4d5e01",
      "name": "Clock",
      "description": "Tells the time in a timezone.",
      "inputs": [{"key": "1", "label": "Timezone", "default": "UTC"}],
      "tools": [{"name": "get_current_time", "description": "Current time in a timezone",
                 "parameters": {"type": "object", "properties": {"timezone": {"type": "string"}}}}],
      "on_error": "continue",
      "steps": [
        {"name": "ask the time",
         "when": "inputs['1'] != ''",
         "calls": [{"tool": "get_current_time", "as": "time",
                    "arguments": {"timezone": "{{ inputs['1'] }}"}}]}
      ],
      "result": "The current time in {{ inputs['1'] }} is {{ outputs.time }}."
    }

- ``inputs``: the string inputs the agent declares; a run's ``string_inputs``
  are laid over the defaults, so a missing key takes its ``default``.
- ``steps``: in order; each step that runs is one round of one or several
  parallel calls. ``when`` (optional) is a Jinja2 expression: the step is
  skipped when it is false, so two steps with opposite conditions make a branch.
- ``calls[].as``: the name a call's output is stored under, unique within its
  step; a later round may reuse a name (branches can share ``"booking"``).
- ``calls[].arguments``: string values (also inside lists and objects) are
  Jinja2 templates; other JSON values are sent as they are.
- ``on_error``: ``"continue"`` (default) lets the script go on after an
  ``is_error`` result; ``"fail"`` fails the run with error
  ``{"code": "tool_error", "message": "<tool> failed: <output>"}``.
- ``result``: a Jinja2 template for the final ``result`` string.

Templates render in a ``jinja2.sandbox.SandboxedEnvironment`` with
``StrictUndefined`` over ``inputs`` (the run's inputs, by key), ``outputs``
(``as`` name → output string of earlier rounds) and ``errors`` (``as`` name →
``is_error``). Syntax errors are found at load time; a failure while rendering
is a ``ScenarioError`` naming the step, which the engine turns into a failed run.
"""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import jinja2
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from app.protocol import AgentInput, AgentSpec, ToolSpec

DEFAULT_SCENARIOS_DIR = Path(__file__).resolve().parents[2] / "fixtures" / "scenarios"
"""``<repo>/fixtures/scenarios``: the demo agents shipped with the console."""

_ENV = SandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False)


@functools.lru_cache(maxsize=1024)
def _template(source: str) -> jinja2.Template:
    """``source`` compiled once: compiling costs milliseconds on the event loop, rendering a compiled one little."""
    return _ENV.from_string(source)


@functools.lru_cache(maxsize=1024)
def _expression(source: str) -> Callable[..., Any]:
    """A ``when`` expression compiled once (``_template``'s reason)."""
    return _ENV.compile_expression(source)


class ScenarioError(Exception):
    """A template failed while a run was rendering it; the message names the step."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class CallSpec(_Strict):
    """One call of a step: the tool, the name its output is stored under, templated arguments (an object; or a
    string, sent as a string, which is how a sender's unparsable arguments are played: case C10)."""

    tool: str = Field(min_length=1)
    as_: str = Field(alias="as", min_length=1)
    arguments: dict[str, Any] | str = Field(default_factory=dict)


class StepSpec(_Strict):
    """One round: several calls sent together, run only when ``when`` is true (if given)."""

    name: str = ""
    when: str | None = None
    calls: list[CallSpec] = Field(min_length=1)

    @field_validator("calls")
    @classmethod
    def _unique_names(cls, calls: list[CallSpec]) -> list[CallSpec]:
        names = [call.as_ for call in calls]
        dupes = sorted({name for name in names if names.count(name) > 1})
        if dupes:
            raise ValueError(f"two calls of one step store their output as {', '.join(dupes)}")
        return calls


class Scenario(_Strict):
    """A scripted agent; see the module docstring for the file format."""

    agent_id: str
    name: str = Field(min_length=1)
    description: str = ""
    inputs: list[AgentInput] = Field(default_factory=list)
    tools: list[ToolSpec] = Field(min_length=1)
    on_error: Literal["fail", "continue"] = "continue"
    steps: list[StepSpec] = Field(min_length=1)
    result: str

    @field_validator("agent_id")
    @classmethod
    def _uuid(cls, value: str) -> str:
        try:
            uuid.UUID(value)
        except ValueError:
            raise ValueError(f"agent_id {value!r} is not a UUID") from None
        return value

    @model_validator(mode="after")
    def _check_script(self) -> Scenario:
        declared = {tool.name for tool in self.tools}
        for index, step in enumerate(self.steps):
            label = self.step_label(index)
            for call in step.calls:
                if call.tool not in declared:
                    raise ValueError(
                        f"{label} calls {call.tool!r}, which is not in tools ({', '.join(sorted(declared))})"
                    )
                _compile_values(call.arguments, f"{label}, {call.as_} arguments")
            if step.when is not None:
                _compile(step.when, f"{label} when", expression=True)
        _compile(self.result, "result")
        return self

    def step_label(self, index: int) -> str:
        """``"step 2 (book hotel)"``: how messages name a step (1-based)."""
        name = self.steps[index].name
        return f"step {index + 1} ({name})" if name else f"step {index + 1}"

    def to_agent_spec(self) -> AgentSpec:
        """The ``GET /v1/agents`` entry, with the simulator's ``inputs`` extension."""
        return AgentSpec(
            agent_id=self.agent_id, name=self.name, description=self.description, tools=self.tools, inputs=self.inputs
        )

    def initial_inputs(self, string_inputs: dict[str, str]) -> dict[str, str]:
        """Declared defaults overlaid with a run's ``string_inputs``."""
        return {**{item.key: item.default for item in self.inputs}, **string_inputs}

    def step_applies(self, index: int, context: dict[str, Any]) -> bool:
        """Evaluate step ``index``'s ``when``; raises ``ScenarioError`` naming the step."""
        when = self.steps[index].when
        if when is None:
            return True
        return bool(_run(lambda: _expression(when)(**context), f"{self.step_label(index)} when"))

    def render_arguments(self, index: int, call: CallSpec, context: dict[str, Any]) -> dict[str, Any] | str:
        """Render ``call.arguments`` (strings as templates, recursively); raises ``ScenarioError``."""
        where = f"{self.step_label(index)}, arguments of {call.as_}"
        rendered = _run(lambda: _render_values(call.arguments, context), where)
        assert isinstance(rendered, dict | str)
        return rendered

    def render_result(self, context: dict[str, Any]) -> str:
        """Render the final ``result`` template; raises ``ScenarioError``."""
        return str(_run(lambda: _template(self.result).render(**context), "result"))


def load_scenario(path: Path) -> Scenario:
    """Read and validate one scenario file; raises ``ValueError("<path>: <problem>")``."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: cannot read the file ({exc})") from exc
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from exc
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ValueError(f"{path}: {_describe(exc)}") from exc


def load_scenarios(directory: Path = DEFAULT_SCENARIOS_DIR) -> list[Scenario]:
    """Every ``*.json`` in ``directory``, by file name; raises ``ValueError`` naming the bad file.

    Two files with the same ``agent_id`` are an error too. A missing directory
    raises ``ValueError``; an empty one gives ``[]``.
    """
    if not directory.is_dir():
        raise ValueError(f"{directory}: no such scenarios directory")
    scenarios: list[Scenario] = []
    seen: dict[str, Path] = {}
    for path in sorted(directory.glob("*.json")):
        scenario = load_scenario(path)
        if scenario.agent_id in seen:
            raise ValueError(f"{path}: agent_id {scenario.agent_id} is already used by {seen[scenario.agent_id]}")
        seen[scenario.agent_id] = path
        scenarios.append(scenario)
    return scenarios


def _describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)


def _compile(source: str, where: str, *, expression: bool = False) -> None:
    try:
        if expression:
            _ENV.compile_expression(source)
        else:
            _ENV.from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        raise ValueError(f"{where}: template error: {exc.message}") from exc


def _compile_values(value: Any, where: str) -> None:
    if isinstance(value, str):
        _compile(value, where)
    elif isinstance(value, dict):
        for item in value.values():
            _compile_values(item, where)
    elif isinstance(value, list):
        for item in value:
            _compile_values(item, where)


def _render_values(value: Any, context: dict[str, Any]) -> Any:
    if isinstance(value, str):
        return _template(value).render(**context)
    if isinstance(value, dict):
        return {key: _render_values(item, context) for key, item in value.items()}
    if isinstance(value, list):
        return [_render_values(item, context) for item in value]
    return value


def _run(render: Callable[[], Any], where: str) -> Any:
    try:
        return render()
    except Exception as exc:  # a template may raise anything (UndefinedError, SecurityError, TypeError...)
        raise ScenarioError(f"{where}: {type(exc).__name__}: {exc}") from exc
