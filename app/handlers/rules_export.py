"""What a rules handler needs in an exported module besides the evaluator: its templates and the SDK's shape.

*Export as Python* embeds this module's source after ``app.handlers.rules_core``'s, dropping the import
of that module (its names are already defined there), so it imports only the standard library, jinja2
and ``rules_core``, and has no ``from __future__`` import. The console renders with
``app.handlers.templates`` instead (its guards and a seeded ``fake``).
"""

import json
from datetime import UTC, datetime
from typing import Any

from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from app.handlers.rules_core import RulesJson, evaluate_rules, search_re


def answer_for_sdk(spec: RulesJson, args: dict[str, Any], agent_id: str, task_id: int) -> str:
    """The SDK handler's answer (CONTRACT.md, "The handler signature"): the output text, or ``RuntimeError``
    with the text of an error answer. Templates see ``args``, ``agent_id``, ``task_id``, ``now`` (UTC), ``round``
    (always 0) and ``results`` (always ``{}``): the SDK passes neither; ``fake`` does not exist. Regexes run
    with the standard ``re``, without a timeout."""
    variables = dict(args=args, agent_id=agent_id, task_id=task_id, round=0, results={}, now=datetime.now(UTC))
    verdict = evaluate_rules(spec, args, render=lambda template: render_plain(template, variables), search=search_re)
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
