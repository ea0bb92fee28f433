"""A tool call's arguments on a card: indented JSON, or the text as sent with why it is not a JSON object.

Case C10: a round whose arguments do not parse (``{"city": "Os``, the string ``"null"``) is pending and
answerable like any other; the person sees the raw text and the reason, and typically answers with is_error.
"""

from nicegui import ui

from app.models import ToolCallPublic
from app.ui.format import pretty_json


def arguments_view(call: ToolCallPublic, *, text_size: str = "text-sm") -> None:
    """The arguments of ``call``, marked ``arguments-{tool_call_id}``; the reason, when they did not parse, is
    marked ``arguments-problem-{tool_call_id}``."""
    if call.arguments_problem is None:
        ui.code(pretty_json(call.arguments), language="json").classes(f"w-full {text_size}").mark(
            f"arguments-{call.tool_call_id}"
        )
        return
    with ui.column().classes("w-full gap-1"):
        said = f"The arguments are {call.arguments_problem}. Shown as sent; answer anyway (e.g. with is_error)."
        ui.label(said).classes("text-sm text-negative").mark(f"arguments-problem-{call.tool_call_id}")
        ui.code(call.arguments_text or "", language=None).classes(f"w-full {text_size}").mark(
            f"arguments-{call.tool_call_id}"
        )
