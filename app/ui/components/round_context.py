"""On an inbox card: the run's inputs, and the earlier rounds of the same run, collapsed.

The earlier rounds are drawn only when a person opens them: an inbox may hold many cards, and most are answered
without a look back. Arguments are plain monospaced text, not ``ui.code`` (which runs a timer per block).
"""

from __future__ import annotations

import json

from nicegui import ui

from app.services.inbox import EarlierRound, RoundContext


def show_context(context: RoundContext | None, *, round_id: int) -> None:
    """The inputs line (each input by the agent's label for it, else its key) and an expansion "Earlier rounds
    (n)", at the current place; nothing for a card without context (the first round of a run the console did not
    start)."""
    if context is None:
        return
    if context.inputs:
        names = context.labels
        text = ", ".join(f"{names.get(key, key)} = {value}" for key, value in context.inputs.items())
        ui.label(f"Inputs: {text}").classes("text-sm text-grey-8 whitespace-pre-wrap").mark(f"inputs-{round_id}")
    if not context.earlier:
        return
    drawn = False

    def draw() -> None:
        nonlocal drawn
        if drawn or not expansion.value:
            return
        drawn = True
        with expansion:
            for earlier in context.earlier:
                _earlier_round(earlier, round_id)

    expansion = (
        ui.expansion(f"Earlier rounds ({len(context.earlier)})", icon="history", on_value_change=draw)
        .props("dense")
        .classes("w-full text-sm")
        .mark(f"earlier-{round_id}")
    )


SHOWN_CHARS = 2_000
"""Characters of an earlier result shown on the card; the run page has all of it."""


def _cut(text: str) -> str:
    return text if len(text) <= SHOWN_CHARS else f"{text[:SHOWN_CHARS]}… ({len(text):,} characters: see the run)"


def _earlier_round(earlier: EarlierRound, round_id: int) -> None:
    with ui.column().classes("w-full gap-1 pb-2").mark(f"earlier-{round_id}-round-{earlier.round}"):
        heading = f"Round {earlier.round} · {earlier.state}"
        if earlier.answered_by:
            heading += f" · answered by {earlier.answered_by}"
        ui.label(heading).classes("font-bold text-sm")
        for call in earlier.calls:
            arguments = (
                call.arguments_text
                if call.arguments_text is not None
                else json.dumps(call.arguments, ensure_ascii=False)
            )
            ui.label(f"{call.tool_call_id} · {call.name}({_cut(arguments)})").classes(
                "font-mono text-xs whitespace-pre-wrap break-all"
            )
            if call.output is None:
                ui.label("no result sent").classes("text-xs text-grey-6 italic pl-4")
                continue
            prefix = "error: " if call.is_error else "→ "
            by = f"  ({call.answered_by})" if call.answered_by and call.answered_by != earlier.answered_by else ""
            ui.label(prefix + _cut(call.output) + by).classes(
                "font-mono text-xs whitespace-pre-wrap break-all pl-4" + (" text-negative" if call.is_error else "")
            )
