"""Static handlers: the same answer to every call of a tool.

The spec is stored as JSON (in SQLite and in exported config files)::

    {"output": {"temp_c": 19, "sky": "clear"}, "is_error": false}

``output`` is sent literally: no template is rendered (use a rules handler for that).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from app.handlers.answer import Answer, encode_output

JsonOutput = str | dict[str, Any] | list[Any] | int | float | bool | None
"""A tool output as configured: text, or any JSON value (JSON-encoded when sent)."""


class StaticSpec(BaseModel):
    """A fixed answer: ``output`` is text or any JSON value; ``is_error`` marks it as a tool failure."""

    model_config = ConfigDict(extra="forbid")

    output: JsonOutput = ""
    is_error: bool = False


def answer_static(spec: StaticSpec) -> Answer:
    """The spec's output as a tool result: strings as they are, other JSON values JSON-encoded."""
    return Answer(output=encode_output(spec.output), is_error=spec.is_error, note="static")
