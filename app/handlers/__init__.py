"""Running scripted tool handlers: static answers, rules with templates, Python snippets in a sandbox.

The modules others import; those starting with ``_`` are the sandbox's own (the worker process and its
confinement)."""

__all__ = [
    "answer",
    "faults",
    "rules",
    "rules_core",
    "rules_export",
    "run",
    "sandbox",
    "snippet_check",
    "static",
    "templates",
]
