"""One inbox card's typed draft: saved as the person types, filled back in when the card is drawn again.

The rows live in the database (``app.services.typed_drafts``); this is the card's side: it notes each edit, saves
once the fields have been quiet for ``QUIET_SECONDS`` (``CardClock`` asks every tick) or at once when a field
loses focus, and claims the round on *Take over*.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from nicegui import ui

from app.runtime import get_runtime
from app.services import typed_drafts
from app.services.typed_drafts import TypedField
from app.states import Role
from app.ui import access
from app.ui.components.round_status import QUIET_SECONDS

if TYPE_CHECKING:
    from app.ui.components.round_form_fields import CallField


class DraftKeeper:
    """The typed draft of round ``round_id`` for ``person``; ``active()`` says whether saving makes sense now (the
    card is open and not being sent)."""

    def __init__(self, round_id: int, person: str, *, active: Callable[[], bool]) -> None:
        self.round_id = round_id
        self.person = person
        self.active = active
        self.fields: Sequence[CallField] = ()
        self.changed_at: float | None = None  # the person's last edit not yet saved
        self.saved_at = 0.0
        self.restored = False
        self.open_fields: Callable[[], None] = lambda: None  # builds the fields of a card drawn light

    def changed(self) -> None:
        self.changed_at = time.time()

    async def blurred(self) -> None:
        """Save at once, unless this card saved less than ``QUIET_SECONDS`` ago: then the clock's next tick does.
        A browser can send any events; edits and blurs in a loop must not become a database write each."""
        now = time.time()
        await self.save(now=now, at_once=now - self.saved_at >= QUIET_SECONDS)

    def restore(self, typed: dict[str, TypedField]) -> None:
        """Fill in the person's typed draft of the round (``typed`` by tool_call_id), unless they have typed since
        the card appeared. ``CardClock`` reads the drafts of all new cards at once."""
        self.restored = True
        if self.changed_at is not None:
            return
        if any(found.output or found.is_error for found in typed.values()):
            self.open_fields()  # a light card opens to give the person back what they typed
        for field in self.fields:
            found = typed.get(field.call.tool_call_id)
            if found is not None:
                field.restore(found)

    async def save(self, *, now: float, at_once: bool = False) -> None:
        """Save the fields once quiet for ``QUIET_SECONDS`` (or ``at_once``); nothing when nothing changed."""
        changed = self.changed_at
        if changed is None or not self.active() or not access.may(Role.ANSWERER):
            return
        if not at_once and now - changed < QUIET_SECONDS:
            return
        self.changed_at, self.saved_at = None, now
        engine, round_id, person = get_runtime().engine, self.round_id, self.person
        fields = [field.typed() for field in self.fields]
        await asyncio.to_thread(
            lambda: typed_drafts.save(engine=engine, round_id=round_id, person=person, fields=fields)
        )

    async def take_over(self) -> None:
        """Claim the round from whoever is answering it (saving the fields as they are); they see who took it."""
        engine, round_id, person = get_runtime().engine, self.round_id, self.person
        fields = [field.typed() for field in self.fields]
        self.changed_at = None
        taken = await asyncio.to_thread(
            lambda: typed_drafts.take_over(engine=engine, round_id=round_id, person=person, fields=fields)
        )
        if taken:
            ui.notify("You are answering this round now; the others see that you took over")
        else:
            ui.notify("This round is no longer waiting for an answer", type="warning")

    async def discard(self) -> None:
        """Remove the round's typed drafts (it was sent)."""
        engine, round_id = get_runtime().engine, self.round_id
        await asyncio.to_thread(lambda: typed_drafts.discard(engine=engine, round_id=round_id))
