"""Python source text for *Export as Python*: literals, identifiers, docstring-safe text, import lines,
and the source of a module to paste into the generated one.

Generated text follows what ruff's formatter and isort would write (double quotes, imports sorted,
lines up to ``WIDTH``), so an exported module passes a linter as it is.
"""

from __future__ import annotations

import ast
import inspect
import json
import keyword
import re
import sys
import textwrap
from dataclasses import dataclass
from types import ModuleType
from typing import Any

WIDTH = 100
"""Literals and docstring lines longer than this (characters) are spread over several lines."""


@dataclass(frozen=True)
class Embedded:
    """A module's source to paste into a generated module: its ``imports`` (one line per statement, ``from app``
    ones left out) and its ``body``, the statements after them (no docstring, no ``__future__`` import)."""

    imports: frozenset[str]
    body: str


def embedded(module: ModuleType) -> Embedded:
    """The source of ``module`` (``inspect.getsource``) split into its imports and the rest; the module must have no
    ``from __future__`` import, as the statements land below the generated module's own imports."""
    source = inspect.getsource(module)
    tree = ast.parse(source)
    imports: set[str] = set()
    start = len(source.splitlines())
    for node in tree.body:
        if isinstance(node, ast.Import):
            imports |= {f"import {_alias(alias)}" for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.module == "__future__" or node.level:
                raise ValueError(f"{module.__name__}: a relative or __future__ import cannot be embedded")
            if node.module and not node.module.startswith("app."):
                imports.add(f"from {node.module} import {', '.join(_alias(alias) for alias in node.names)}")
        elif not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and node is tree.body[0]):
            decorators = getattr(node, "decorator_list", [])
            start = min([node.lineno, *(d.lineno for d in decorators)])
            break
    body = "".join(source.splitlines(keepends=True)[start - 1 :]).strip()
    return Embedded(imports=frozenset(imports), body=body)


def sort_imports(lines: list[str]) -> str:
    """Import lines in isort's order: ``import x`` lines, then ``from x import y`` lines, one per module with
    the names merged (constants, then classes, then the rest)."""
    plain = sorted((line for line in lines if line.startswith("import ")), key=str.lower)
    merged: dict[str, set[str]] = {}
    for line in lines:
        if line.startswith("from "):
            module, names = line.removeprefix("from ").split(" import ", 1)
            merged.setdefault(module, set()).update(name.strip() for name in names.split(","))
    froms = [f"from {module} import {', '.join(sorted(names, key=_by_type))}" for module, names in merged.items()]
    return "\n".join(plain + sorted(froms, key=lambda line: line.split()[1]))


def wrap(text: str) -> list[str]:
    """``text`` as lines of at most ``WIDTH`` characters, for a docstring."""
    return textwrap.wrap(text, width=WIDTH, break_on_hyphens=False) or [""]


def text_or_repr(value: Any) -> str:
    """A Python literal of a string (``string_literal``), a number, a bool or None."""
    return string_literal(value) if isinstance(value, str) else repr(value)


def string_literal(text: str) -> str:
    """A string literal, double-quoted unless that needs more escapes (the formatters' preference)."""
    literal = repr(text)
    if literal.startswith("'") and '"' not in literal[1:-1]:
        return '"' + literal[1:-1] + '"'
    return literal


def function_names(tool_names: list[str], reserved: set[str]) -> list[str]:
    """A distinct Python identifier for every tool: the tool name when usable, else a sanitised one that is no
    keyword and none of ``reserved`` (the names the module defines itself), e.g. ``get-weather`` -> ``get_weather``."""
    taken: set[str] = set()
    names = []
    for tool in tool_names:
        base = re.sub(r"\W", "_", tool)
        if not base.isidentifier() or not base.isascii():
            base = re.sub(r"[^0-9A-Za-z_]", "_", tool)
        if not base or base[0].isdigit() or base.startswith("_"):
            base = "tool_" + base.lstrip("_")
        if keyword.iskeyword(base) or keyword.issoftkeyword(base) or base in reserved:
            base += "_tool"
        name, n = base, 2
        while name in taken:
            name, n = f"{base}_{n}", n + 1
        taken.add(name)
        names.append(name)
    return names


def module_name(agent_name: str | None, agent_id: str) -> str:
    """``<agent name>_tools`` as an identifier (``Trip planner`` -> ``trip_planner_tools``), else from the agent id."""
    base = re.sub(r"[^0-9a-z]+", "_", (agent_name or "").lower()).strip("_")
    if not base:
        base = "agent_" + re.sub(r"[^0-9a-z]+", "", agent_id.lower())[:8]
    if base[0].isdigit():
        base = "agent_" + base
    return f"{base}_tools"


def plain(text: str | None) -> str:
    """Text safe inside a docstring or comment: no line breaks, quotes or backslashes."""
    cleaned = "".join(ch if ch.isprintable() else " " for ch in text or "")
    return cleaned.replace("\\", "/").replace('"', "'")


def json_literal(value: Any, indent: int = 0) -> str:
    """A Python literal of a JSON value, spread over lines beyond ``WIDTH``; ``json.loads`` of the JSON text for
    values without one (NaN, infinities)."""
    try:
        return _pretty(value, indent)
    except ValueError:
        return f"json.loads({json.dumps(value)!r})"


def _pretty(value: Any, indent: int) -> str:
    inline = _inline(value)
    if len(inline) + indent <= WIDTH or not isinstance(value, dict | list) or not value:
        return inline
    pad = " " * (indent + 4)
    if isinstance(value, dict):
        items = [f"{pad}{string_literal(key)}: {_pretty(item, indent + 4)}," for key, item in value.items()]
        return "{\n" + "\n".join(items) + "\n" + " " * indent + "}"
    items = [f"{pad}{_pretty(item, indent + 4)}," for item in value]
    return "[\n" + "\n".join(items) + "\n" + " " * indent + "]"


def _inline(value: Any) -> str:
    if isinstance(value, str):
        return string_literal(value)
    if value is None or isinstance(value, bool | int):
        return repr(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("no Python literal")
        return repr(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{string_literal(str(key))}: {_inline(item)}" for key, item in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_inline(item) for item in value) + "]"
    raise ValueError(f"not a JSON value: {type(value).__name__}")


def source_literal(code: str) -> str:
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
    lines = "\n".join(f"    {string_literal(line)}" for line in code.splitlines(keepends=True))
    return f"(\n{lines}\n)"


def third_party_imports(code: str) -> list[str]:
    """Top-level packages a snippet imports that are not in the standard library (for the "Needs" line)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module.split(".")[0])
    return sorted(name for name in found if name not in sys.stdlib_module_names and name != "__future__")


def _alias(alias: ast.alias) -> str:
    return f"{alias.name} as {alias.asname}" if alias.asname else alias.name


def _by_type(name: str) -> tuple[int, str]:
    """isort's ``order-by-type``: CONSTANTS, then Classes, then everything else."""
    if name.isupper() and len(name) > 1:
        return 0, name
    return (1 if name[:1].isupper() else 2), name
