"""Checking a Python handler's snippet without running it: does it compile, does it define ``handle``."""

from __future__ import annotations

import ast
from dataclasses import dataclass


@dataclass(frozen=True)
class SnippetProblem:
    """One problem ``check_snippet`` found: 1-based ``line`` and ``column`` when known, and a message."""

    line: int | None
    column: int | None
    message: str


def check_snippet(code: str) -> list[SnippetProblem]:
    """Compile ``code`` without running it; [] when it compiles and defines a top-level ``handle``.

    A syntax error gives one problem with its position; otherwise a missing ``def handle`` or
    ``async def handle`` at module level gives one without.
    """
    try:
        compile(code, "<handler>", "exec", dont_inherit=True)
    except SyntaxError as exc:
        return [SnippetProblem(line=exc.lineno, column=exc.offset, message=f"SyntaxError: {exc.msg}")]
    except ValueError as exc:  # e.g. a NUL byte in the source
        return [SnippetProblem(line=None, column=None, message=f"SyntaxError: {exc}")]
    tree = ast.parse(code)
    if not any(
        isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == "handle" for node in tree.body
    ):
        message = "no `handle` function: add `async def handle(args: dict, agent_id: str, task_id: int) -> str`"
        return [SnippetProblem(line=None, column=None, message=message)]
    return []
