"""A tool call's arguments on a card: indented JSON, or the text as sent with why it is not a JSON object.

Case C10: a round whose arguments do not parse (``{"city": "Os``, the string ``"null"``) is pending and
answerable like any other; the person sees the raw text and the reason, and typically answers with is_error.
"""

from nicegui import ui

from app.models import ToolCallPublic
from app.ui.format import pretty_json

SHOWN_CHARS = 10_000
"""Characters of a call's arguments a page draws. Up to the webhook's 1 MB limit can come in one call; drawn
whole, its highlighting alone held the event loop for seconds (so every webhook waited) and each tab's browser
got the megabyte in its page. The API (``GET /api/rounds/{id}``) keeps the whole text.

Plain monospaced text, not ``ui.code``: each ``ui.code`` runs a 0.1 s timer for its copy button (100 cards in 10
tabs made 10,000 callbacks a second on the event loop, every webhook waiting behind them), and its Markdown fence
let arguments holding a fence of their own be drawn as Markdown and HTML instead of as sent."""


def arguments_view(call: ToolCallPublic, *, text_size: str = "text-sm") -> None:
    """The arguments of ``call`` as plain text, marked ``arguments-{tool_call_id}``; the reason, when they did not parse, is
    marked ``arguments-problem-{tool_call_id}``. Past ``SHOWN_CHARS`` only the start is shown, with a note saying
    so (marked ``arguments-cut-{tool_call_id}``)."""
    if call.arguments_problem is None:
        _code(call, pretty_json(call.arguments), text_size)
        return
    with ui.column().classes("w-full gap-1"):
        said = f"The arguments are {call.arguments_problem}. Shown as sent; answer anyway (e.g. with is_error)."
        ui.label(said).classes("text-sm text-negative").mark(f"arguments-problem-{call.tool_call_id}")
        _code(call, call.arguments_text or "", text_size)


def _code(call: ToolCallPublic, text: str, text_size: str) -> None:
    ui.label(text[:SHOWN_CHARS]).classes(
        f"w-full font-mono {text_size} whitespace-pre-wrap break-all bg-grey-2 rounded p-2"
    ).mark(f"arguments-{call.tool_call_id}")
    if len(text) > SHOWN_CHARS:
        ui.label(
            f"The first {SHOWN_CHARS:,} of {len(text):,} characters; GET /api/rounds/{{id}} has them all."
        ).classes("text-xs text-grey-7").mark(f"arguments-cut-{call.tool_call_id}")
