"""Widgets the pages share: the round form and the handler editor with its parts."""

__all__ = [
    "config_buttons",
    "handler_behaviour",
    "handler_editor",
    "handler_header",
    "handler_python",
    "handler_rules",
    "handler_static",
    "handler_test",
    "handler_versions",
    "result_editor",
    "round_actions",
    "round_context",
    "round_form",
]
