"""What a rules handler needs in an exported module besides the evaluator: its templates and the SDK's shape.

*Export as Python* embeds this module's source after ``app.handlers.rules_core``'s, ``rules_regex``'s and
``rules_steps``' (in that order), dropping the imports of those modules (their names are already defined there),
so it imports only the standard library and jinja2, and has no ``from __future__`` import. The console renders with
``app.handlers.templates`` instead (its guards and a seeded ``fake``).
"""

import json
from datetime import UTC, datetime
from typing import Any

from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from app.handlers.rules_core import RulesJson, evaluate_rules
from app.handlers.rules_regex import search_re
from app.handlers.rules_steps import MEMORY, answer_counted, uses_memory


def answer_for_sdk(spec: RulesJson, args: dict[str, Any], agent_id: str, task_id: int, tool: str = "") -> str:
    """The SDK handler's answer (CONTRACT.md, "The handler signature"): the output text, or ``RuntimeError``
    with the text of an error answer. Templates see ``args``, ``agent_id``, ``task_id``, ``now`` (UTC), ``round``
    (always 0) and ``results`` (always ``{}``): the SDK passes neither; ``fake`` does not exist. Regexes run
    with the standard ``re``, without a timeout. Sequences and the run's state (``rules_steps``) are kept in this
    process's ``MEMORY``, counted per ``tool``, and lost when it ends; templates then see ``call_count`` and
    ``state`` too."""
    variables = dict(args=args, agent_id=agent_id, task_id=task_id, round=0, results={}, now=datetime.now(UTC))
    if uses_memory(spec):
        verdict = answer_counted(
            spec,
            args,
            tool=tool,
            task_id=task_id,
            memory=MEMORY,
            render=lambda template, extra: render_plain(template, {**variables, **extra}),
            search=search_re,
        )
    else:
        verdict = evaluate_rules(spec, args, render=lambda t: render_plain(t, variables), search=search_re)
    if verdict.is_error:
        raise RuntimeError(verdict.output)
    return verdict.output


def render_plain(template: Any, variables: dict[str, Any]) -> str:
    """A string template rendered to text, or a JSON value with every string inside rendered, JSON-encoded.

    Jinja2's ``SandboxedEnvironment`` with ``StrictUndefined``, without ``lipsum`` and with a ``fromjson``
    filter; an error is re-raised as ``RuntimeError("<its type>: <its message>")``.
    """
    try:
        if isinstance(template, str):
            return _TEMPLATES.from_string(template).render(variables)
        return json.dumps(_render_value(template, variables), ensure_ascii=False)
    except Exception as exc:
        raise RuntimeError(f"{type(exc).__name__}: {exc}") from None


_TEMPLATES = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
_TEMPLATES.globals.pop("lipsum", None)
_TEMPLATES.filters["fromjson"] = json.loads


def _render_value(template: Any, variables: dict[str, Any]) -> Any:
    if isinstance(template, str):
        return _TEMPLATES.from_string(template).render(variables)
    if isinstance(template, dict):
        return {key: _render_value(value, variables) for key, value in template.items()}
    if isinstance(template, list):
        return [_render_value(value, variables) for value in template]
    return template
