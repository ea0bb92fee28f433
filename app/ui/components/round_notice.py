"""Why a round left the inbox: a notice for each card that went because its round was closed or expired.

A round leaves the inbox when it is answered, or when it ends otherwise: the platform refused its submission (404,
409, 410), the run moved on or ended, or the platform no longer knows the run. A person looking at the card must
not see it vanish without a word (issue 8), so each such card leaves with the round's reason as a notice.
"""

import asyncio

from nicegui import ui

from app.runtime import get_runtime
from app.services import rounds
from app.states import RoundState

ENDED = (RoundState.CLOSED, RoundState.EXPIRED)


async def say_why_rounds_left(round_ids: list[int]) -> list[int]:
    """One notice per round of ``round_ids`` that is closed or expired with a reason (the rounds another tab or a
    handler submitted are not this notice's business), read in one query however many cards left at once. Returns the rounds still *submitting*: sent elsewhere and
    retried by the outbox, so a later refusal may still close them; ask again about those on the next refresh."""
    if not round_ids:
        return []
    engine = get_runtime().engine
    ended = await asyncio.to_thread(lambda: rounds.round_states(engine=engine, round_ids=round_ids))
    for round_ in ended:
        if round_.state in ENDED and round_.message:
            ui.notify(
                f"Run {round_.task_id} round {round_.round} left the inbox ({round_.state}): {round_.message}",
                type="warning",
                multi_line=True,
                close_button="OK",
                timeout=15000,
            )
    return [round_.id for round_ in ended if round_.id is not None and round_.state == RoundState.SUBMITTING]
