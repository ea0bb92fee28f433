"""The live line of an inbox card: who else is answering (with *Take over*), the countdown to ``expires_at``, and
what became of the round once it left the inbox. ``CardClock`` drives every card of a page from one timer.

Texts: "alice is answering · 20 s ago", "bob took over · 3 s ago", "also typing: carol · 5 s ago",
"expires in 4 s", "expired at 21:40:05: Submit is off", "answered by person: bob at 21:40:01" (case C14, C15).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING

from nicegui import ui

from app.protocol import deadline_seconds
from app.runtime import get_runtime
from app.services import typed_drafts
from app.services.typed_drafts import RoundPresence
from app.states import Role
from app.ui import access
from app.ui.format import clock

if TYPE_CHECKING:
    from app.ui.components.round_form import RoundForm

TICK_SECONDS = 0.5
"""How often a page's cards update their countdowns and relative times and save typed drafts."""

QUIET_SECONDS = 0.5
"""A typed draft is saved once its fields have not changed for this long (so 0.5 to 1 s after the last
keystroke), and at once when a field loses focus."""

PRESENCE_REREAD = 5.0
"""Seconds after which a page reads presence again even if this process saved nothing (a safety net)."""


def ago(seconds: float) -> str:
    """``3 s ago``, ``4 min ago``, ``2 h ago``."""
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds} s ago"
    if seconds < 7200:
        return f"{seconds // 60} min ago"
    return f"{seconds // 3600} h ago"


def left(seconds: float) -> str:
    """Time left, rounded up: ``4 s``, ``3 min 5 s``, ``42 min``, ``2 h 10 min``."""
    whole = max(0, math.ceil(seconds))
    if whole < 120:
        return f"{whole} s"
    if whole < 600:
        return f"{whole // 60} min {whole % 60} s"
    if whole < 7200:  # whole minutes: the text, and so every open tab's card, changes once a minute, not a second
        return f"{math.ceil(whole / 60)} min"
    return f"{whole // 3600} h {whole % 3600 // 60} min"


class RoundStatus:
    """The line under a card's title. ``tick(now)`` refreshes its texts; it returns True once, when the round's
    ``expires_at`` has just passed."""

    def __init__(
        self, round_id: int, expires_at: str | None, *, person: str, on_take_over: Callable[[], Awaitable[None]]
    ) -> None:
        self.person = person
        self.expires_at = expires_at
        self.deadline = deadline_seconds(expires_at)
        self.expired = False
        self.presence: RoundPresence | None = None
        self.round_id = round_id
        self.on_take_over = on_take_over
        self.who: ui.label | None = None  # presence and Take over, built once someone else is answering
        self.take: ui.button | None = None
        self.outcome: ui.label | None = None  # built once the round left the inbox
        with ui.row().classes("w-full items-center gap-3") as self.line:
            self.countdown = ui.label("").classes("text-xs text-grey-8 ml-auto").mark(f"countdown-{round_id}")
            if expires_at:
                self.countdown.props["title"] = expires_at  # an attribute, not a tooltip element: cards are many
        self.countdown.set_visibility(bool(expires_at))
        self.tick(time.time())

    def tick(self, now: float) -> bool:
        self._show_presence(now)
        if self.expires_at and self.deadline is None:
            self.countdown.set_text(f"expires {self.expires_at}")
        if self.deadline is None or self.expired:
            return False
        if now < self.deadline:
            self.countdown.set_text(f"expires in {left(self.deadline - now)}")
            return False
        self.expired = True
        self.countdown.set_text(f"expired at {clock(self.deadline)}: Submit is off")
        self.countdown.classes(replace="text-sm font-bold text-negative")
        if self.take is not None:
            self.take.set_visibility(False)
        return True

    def finish(self, text: str) -> None:
        """The round left the inbox: say what became of it; presence and countdown stop."""
        self.deadline = None
        self.presence = None
        slot = self.line.parent_slot
        if self.outcome is None and slot is not None:
            with slot:
                self.outcome = ui.label("").classes("text-sm font-bold text-primary").mark(f"outcome-{self.round_id}")
            index = next(i for i, element in enumerate(slot.children) if element is self.line)
            self.outcome.move(slot.parent, target_index=index + 1)
        if self.outcome is not None:
            self.outcome.set_text(text)
        self.countdown.set_visibility(False)
        self._show_presence(time.time())

    def _show_presence(self, now: float) -> None:
        found = self.presence
        parts: list[str] = []
        offer_take_over = False
        if found is not None:
            claimant = found.claimant
            if claimant is not None and claimant.person != self.person:
                if found.took_over_from(self.person) and claimant.claimed_at is not None:
                    parts.append(f"{claimant.person} took over · {ago(now - claimant.claimed_at)}")
                else:
                    parts.append(f"{claimant.person} is answering · {ago(now - claimant.active_at)}")
                offer_take_over = not self.expired and access.may(Role.ANSWERER)
            also = [p for p in found.others(self.person) if claimant is None or p.person != claimant.person]
            if also:
                parts.append("also typing: " + ", ".join(f"{p.person} · {ago(now - p.active_at)}" for p in also))
        if parts and self.who is None:
            with self.line:
                self.who = ui.label("").classes("text-sm text-orange-9").mark(f"presence-{self.round_id}")
                self.take = (
                    ui.button("Take over", icon="pan_tool", on_click=access.guarded(Role.ANSWERER, self.on_take_over))
                    .props("flat dense no-caps size=sm")
                    .mark(f"take-over-{self.round_id}")
                )
            self.who.move(self.line, target_index=0)
            self.take.move(self.line, target_index=1)
        if self.who is not None and self.take is not None:
            self.who.set_text(" · ".join(parts) + (" (you can still submit yours)" if offer_take_over else ""))
            self.who.set_visibility(bool(parts))
            self.take.set_visibility(offer_take_over)
        self.line.set_visibility(bool(parts) or self.countdown.visible)


class CardClock:
    """One timer for all cards of a page (``forms`` by round id, as the page keeps them): every ``TICK_SECONDS``
    it fills in the typed drafts of new cards (one query), saves quiet typed drafts, re-reads presence after a save
    or claim (one query for all cards), and refreshes countdowns and relative times. While ``hidden()`` (the tab
    is not on screen: ``app.ui.live.Live.hidden``) it only fills in and saves drafts: presence and countdowns are
    brought up to date at the first tick after the tab is shown again."""

    def __init__(self, forms: Mapping[int, RoundForm], *, hidden: Callable[[], bool] = lambda: False) -> None:
        self.forms = forms
        self.hidden = hidden
        self.seen = -1
        self.read_at = 0.0
        ui.timer(TICK_SECONDS, self.tick)

    async def tick(self) -> None:
        now = time.time()
        open_forms = [form for form in self.forms.values() if not form.closed]
        engine = get_runtime().engine
        new = [form for form in open_forms if not form.keeper.restored]
        if new:
            ids, person = [form.round.id for form in new], new[0].person
            typed = await asyncio.to_thread(lambda: typed_drafts.load(engine=engine, round_ids=ids, person=person))
            for form in new:
                form.keeper.restore(typed.get(form.round.id, {}))
        for form in open_forms:
            await form.keeper.save(now=now)
        if self.hidden():
            return
        revision = typed_drafts.revision()
        if open_forms and (revision != self.seen or now - self.read_at > PRESENCE_REREAD):
            self.seen, self.read_at = revision, now
            ids = [form.round.id for form in open_forms]
            found = await asyncio.to_thread(lambda: typed_drafts.presence(engine=engine, round_ids=ids))
            for form in open_forms:
                form.status.presence = found.get(form.round.id)
        for form in open_forms:
            form.tick(now)
