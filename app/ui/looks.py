"""How every state, verdict and kind looks on a page: one icon and one Quasar colour per word.

One table for all of ``app.states``: a word shared by two sets (``expired`` is a run status and a round state,
``history`` a verdict and a timeline event) looks the same wherever it appears. A run status the contract does
not list (contract: unknown statuses are stored and shown) gets ``UNKNOWN``. ``HEX`` gives each colour's hex
code for the charts, which do not speak Quasar's names.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.states import (
    AnswererKind,
    DraftMode,
    EventKind,
    HandlerKind,
    HandlerMode,
    OutboxState,
    RoundState,
    RunStatusName,
    Verdict,
)


@dataclass(frozen=True)
class Look:
    """A Material icon name and a Quasar colour name."""

    icon: str
    color: str


UNKNOWN = Look("help_center", "purple-5")
_REFUSED = Look("gpp_bad", "negative")
_HANDLER = "grey-8"
LOOKS: dict[str, Look] = {
    RunStatusName.QUEUED: Look("schedule", "grey-6"),
    RunStatusName.RUNNING: Look("play_circle", "blue-6"),
    RunStatusName.AWAITING_TOOL_CALLS: Look("pending_actions", "orange-7"),
    RunStatusName.COMPLETED: Look("check_circle", "positive"),
    RunStatusName.FAILED: Look("error", "negative"),
    RunStatusName.CANCELLED: Look("cancel", "grey-8"),
    RunStatusName.EXPIRED: Look("timer_off", "brown-5"),
    RunStatusName.LOST: Look("help_outline", "grey-5"),
    RoundState.PENDING: Look("hourglass_empty", "orange-7"),
    RoundState.SUBMITTING: Look("outbox", "blue-6"),
    RoundState.SUBMITTED: Look("send", "positive"),
    RoundState.CLOSED: Look("do_not_disturb_on", "grey-7"),
    OutboxState.SENT: Look("send", "positive"),
    Verdict.APPLIED: Look("check", "positive"),
    Verdict.HISTORY: Look("history", "grey-6"),
    Verdict.DUPLICATE: Look("content_copy", "grey-7"),
    Verdict.BAD_HEADERS: _REFUSED,
    Verdict.BAD_TIMESTAMP: _REFUSED,
    Verdict.BAD_SIGNATURE: _REFUSED,
    Verdict.BAD_BODY: _REFUSED,
    Verdict.TOO_LARGE: _REFUSED,
    EventKind.STARTED: Look("play_arrow", "primary"),
    EventKind.STATE: Look("sync_alt", "primary"),
    EventKind.REFUSED: _REFUSED,
    EventKind.ROUND_OPENED: Look("pending_actions", "primary"),
    EventKind.ROUND_CLOSED: Look("timer_off", "brown-5"),
    EventKind.ROUND_SUBMITTED: Look("send", "primary"),
    EventKind.ROUND_REFUSED: Look("block", "negative"),
    EventKind.REPLAY: Look("fast_forward", "primary"),
    EventKind.CHECKED: Look("manage_search", "primary"),
    HandlerMode.MANUAL: Look("person", "grey-7"),
    HandlerMode.SUGGEST: Look("lightbulb", "orange-8"),
    HandlerMode.AUTO: Look("bolt", "positive"),
    DraftMode.TYPED: Look("keyboard", "grey-7"),
    HandlerKind.STATIC: Look("text_snippet", _HANDLER),
    HandlerKind.RULES: Look("rule", _HANDLER),
    HandlerKind.PYTHON: Look("code", _HANDLER),
    AnswererKind.PERSON: Look("person", "primary"),
    AnswererKind.HANDLERS: Look("smart_toy", _HANDLER),
    AnswererKind.FALLBACK: Look("build", _HANDLER),
    AnswererKind.CASSETTE: Look("album", _HANDLER),
}
"""Every member of the enums below has an entry (tests check it): run statuses, round, outbox and draft
states, verdicts, timeline events, handler kinds and modes, answerer kinds."""
SHOWN = (RunStatusName, RoundState, OutboxState, DraftMode, Verdict, EventKind, HandlerKind, HandlerMode, AnswererKind)

HEX = {
    "primary": "#5898d4",
    "grey-5": "#9e9e9e",
    "grey-6": "#757575",
    "grey-7": "#616161",
    "grey-8": "#424242",
    "blue-6": "#2196f3",
    "orange-7": "#f57c00",
    "orange-8": "#ef6c00",
    "positive": "#21ba45",
    "negative": "#c10015",
    "brown-5": "#8d6e63",
    "purple-5": "#ab47bc",
}


def look(value: str) -> Look:
    """The look of a state, verdict or kind; ``UNKNOWN`` for a word no enum has (an unknown run status)."""
    return LOOKS.get(value, UNKNOWN)


def color(value: str) -> str:
    """The Quasar colour name of ``value`` (see ``look``)."""
    return look(value).color


def hex_color(value: str) -> str:
    """The hex colour of ``value`` for a chart, e.g. ``"#21ba45"`` for ``completed``."""
    return HEX[look(value).color]


def color_slot() -> str:
    """A ``q-td`` slot body for ``ui.table`` that shows ``props.value`` as a badge in its colour from ``LOOKS``
    (written into the slot as a JavaScript object), so a table looks like the rest of the pages."""
    colors = ",".join(f"{word}:'{item.color}'" for word, item in LOOKS.items())
    return (
        f'<q-td :props="props"><q-badge :color="({{{colors}}})[props.value] || \'{UNKNOWN.color}\'" '
        ':label="props.value" /></q-td>'
    )
