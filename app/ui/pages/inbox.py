"""Inbox: pending rounds, live. A new round appears without reload; answered ones leave.

Cards are kept by round id, so a round arriving never wipes what a person is
typing in another one. The view (agent, tool, order) lives in the URL
(``/?agent=<agent_id>&tool=get_weather&sort=expiring``), as the Runs page keeps its filters: a reload or a shared
link shows the same view. A card is drawn only once its round is shown; one that a filter hides stays, hidden,
with what was typed in it. Each card's context (the run's inputs, its earlier rounds) is read once, in one query
for every new card of a refresh.

The pending rounds are read once per flush of changes for every Inbox tab (``app.ui.shared_reads``), and a tab
touches only the cards whose round changed. It draws the first ``PAGE_SIZE`` cards of its view (``DRAW_BATCH`` at a
time), says how many wait in all, and *Show more* (or ``j`` on the last card) draws the next ``PAGE_SIZE``: an inbox of 1,000 pending rounds
opens as fast as one of 50 (issue 10).

While a burst is under way (``app.changes.Changes.bursting``: hundreds of deliveries a second), an open Inbox holds
new rounds back: it keeps the cards it shows up to date, says how many new ones wait to be drawn, draws them once
the burst eases (within one flush interval of its end) or at once on *Show them now*. A person cannot answer
hundreds of rounds a second by hand, and cards that are built, sent and dropped again within a second or two cost
the webhook's event loop more than anything else in an open tab (issue 10: "with 10 tabs open, the webhook answers
as fast as with none"). A page's first draw, *Show more* and *Show them now* are never held.
"""

import asyncio
from typing import Any
from urllib.parse import urlencode

from nicegui import ui
from pydantic import ValidationError

from app.changes import changes
from app.models import RoundPublic
from app.runtime import get_runtime
from app.services import inbox
from app.services.pending_rounds import PendingRounds
from app.ui.components.round_form import RoundForm
from app.ui.components.round_notice import say_why_rounds_left
from app.ui.components.round_status import CardClock
from app.ui.live import Live
from app.ui.pages.inbox_pacing import DRAW_BATCH, NEXT_BATCH_SECONDS, NextBatch, next_batch_seconds
from app.ui.shared_reads import pending_rounds

SORT_LABELS: dict[str, str] = {inbox.InboxSort.OLDEST: "oldest first", inbox.InboxSort.EXPIRING: "expiring soonest"}
PAGE_SIZE = 50
"""Cards drawn at first, and added by each *Show more*."""
OPEN_CARDS = 3
"""Cards at the top of the view drawn open, their result fields ready; those below are drawn light (their calls as
one text, about a third of the elements) and open when the person turns to them (``RoundForm.open``). Every new
round is a card in every Inbox tab: light ones keep that cost off the webhook's event loop (issue 10)."""


def page(live: Live, agent: str = "", tool: str = "", sort: str = "") -> None:
    ui.page_title("Inbox · Tooldesk")
    _InboxView(live, {"agent": agent, "tool": tool, "sort": sort})


class _InboxView:
    def __init__(self, live: Live, query: dict[str, str]) -> None:
        try:
            self.view = inbox.InboxView.model_validate({key: value for key, value in query.items() if value})
        except ValidationError:
            self.view = inbox.InboxView()
            ui.notify("Some of the inbox's filters in the address were not understood and were reset", type="warning")
        self.live = live
        self.forms: dict[int, RoundForm] = {}
        self.shown: list[int] = []
        self.left: set[int] = set()  # cards taken away here (skipped, cancelled) while the round may still be pending
        self.sending: set[int] = set()  # cards gone while their round was being sent elsewhere: a refusal may follow
        self.contexts: dict[int, inbox.RoundContext] = {}  # read for cards of the page not drawn yet
        self.seen: dict[int, RoundPublic] = {}  # the round each card last showed: a new object is a changed round
        self.limit = PAGE_SIZE
        self.selected = 0
        self.advance_from = 0  # j on the last card drawn: select the card after this one once it is drawn
        self.refreshing = asyncio.Lock()
        self.queued = False  # a refresh waits for the running one: further calls ride along with it
        self.url = ""
        self.asked = True  # the first read, a filter, Show more or Show them now: that page is drawn, burst or not
        self.promised: set[int] = set()  # rounds of such a page not drawn yet: never held
        with ui.row().classes("w-full items-center gap-3"):
            ui.label("Inbox").classes("text-2xl font-bold")
            ui.space()
            self.count = ui.label("").classes("text-sm text-grey-7").mark("inbox-shown")
        ui.label("Rounds of tool calls waiting for an answer. Fill in every result, then submit.").classes(
            "text-grey-7"
        )
        with ui.row().classes("w-full items-end gap-3"):
            self.agent = self._select("agent", "Agent", {"": "every agent"}, "w-56")
            self.tool = self._select("tool", "Tool", {"": "every tool"}, "w-56")
            self._select("sort", "Order", dict(SORT_LABELS), "w-48")
        with ui.row().classes("w-full items-center gap-3") as self.held:
            self.held_text = ui.label("").classes("text-sm text-grey-8").mark("inbox-held")
            ui.button("Show them now", icon="visibility", on_click=self.show_held).props("flat dense no-caps").mark(
                "inbox-show-held"
            )
        self.held.set_visibility(False)
        self.container = ui.column().classes("w-full gap-4").mark("inbox-rounds")
        with self.container:
            self.empty = (
                ui.label("No round is waiting. Start a run on the Agents page.")
                .classes("text-grey-6 italic")
                .mark("inbox-empty")
            )
        self.empty.set_visibility(False)  # until the first refresh has read what waits
        self.more = (
            ui.button("Show more", icon="expand_more", on_click=self.show_more).props("flat no-caps").mark("inbox-more")
        )
        self.more.set_visibility(False)
        self.next_batch = NextBatch(ui.element("div").mark("inbox-timers"), self._next_batch)
        CardClock(self.forms, hidden=lambda: live.hidden)  # countdowns, presence and typed-draft saving for every card
        live.listen(self.refresh, keys=self.on_key)
        ui.timer(0, self.refresh, once=True)

    def _select(self, name: str, label: str, options: dict[str, str], width: str) -> ui.select:
        """A select for one part of the view; a value from the URL that is not an option yet is kept as one."""
        value = str(getattr(self.view, name) or "")
        if value and value not in options:
            options = {**options, value: value}
        return (
            ui.select(options, value=value, label=label, on_change=lambda e: self._set(**{name: e.value or None}))
            .props("outlined dense")
            .classes(width)
            .mark(f"inbox-{name}")
        )

    async def _set(self, **change: Any) -> None:
        try:
            view = inbox.InboxView.model_validate({**self.view.model_dump(), **change})
        except ValidationError:
            ui.notify("That filter is not one the inbox knows", type="warning")
            return
        if view == self.view:
            return
        self.view = view
        self.limit = PAGE_SIZE
        self.asked = True
        await self.refresh()

    async def show_more(self) -> None:
        """Draw the next ``PAGE_SIZE`` cards of the view."""
        self.limit += PAGE_SIZE
        self.asked = True
        await self.refresh()

    async def show_held(self) -> None:
        """Draw the page's new rounds a burst held back, now; later arrivals are held again."""
        self.asked = True
        await self.refresh()

    async def refresh(self, _task_id: int = 0) -> None:
        """Take the pending rounds as of the last flush, draw cards for new ones of the page (with their context),
        update the cards whose round changed, show those the view keeps, in its order, and put the view in the URL.
        One at a time: an older read never undoes a newer one; calls while one waits ride along with it. A tab
        hidden by the time its read is done draws nothing, and refreshes once it is shown (``Live.hold``)."""
        if self.queued:
            return
        self.queued = True
        async with self.refreshing:
            self.queued = False
            await self._refresh()

    async def _next_batch(self) -> None:
        """The rest of the page, when it is due: at once on screen; a hidden tab draws it when it is shown again."""
        if not self.live.hold(frozenset({0})):
            await self.refresh()

    async def _refresh(self) -> None:
        view = self.view
        asked, self.asked = self.asked, False  # a later click: the next refresh
        pending = await pending_rounds.get()
        page, matched = self._page(pending, view)
        new = [item for item in page if item.id not in self.forms]
        if asked:  # the page the person opened or asked for: drawn in full, burst or not
            self.promised |= {item.id for item in new}
        hold = changes.bursting
        new = [item for item in new if not hold or item.id in self.promised]  # held ones: not even read
        self.contexts |= {item.id: pending.contexts[item.id] for item in new if item.id in pending.contexts}
        unread = [item for item in new if item.id not in self.contexts]  # the whole page's in one query
        if unread:
            engine = get_runtime().engine
            self.contexts |= await asyncio.to_thread(lambda: inbox.load_contexts(engine=engine, rounds=unread))
        if view != self.view:  # changed while reading: the newer view's refresh draws it
            return
        if self.live.hold(frozenset({0})):  # hidden while it read: a hidden tab draws nothing until it is shown
            return
        new = new[:DRAW_BATCH]
        waiting = pending.rounds
        self.contexts = {round_id: found for round_id, found in self.contexts.items() if round_id in waiting}
        self.left = {round_id for round_id in self.left if round_id in waiting}
        gone = [round_id for round_id in self.forms if round_id not in waiting]
        left = [round_id for round_id in gone if await self.forms[round_id].should_leave()]  # text of one's own stays
        if self.container.is_deleted:  # the person went to another page while this refresh read
            return
        for round_id in left:
            self._drop(round_id)
        self.sending = set(await say_why_rounds_left(left + sorted(self.sending - set(left))))
        if self.container.is_deleted:
            return
        for round_id, form in self.forms.items():
            item = waiting.get(round_id)
            if item is not None and item is not self.seen.get(round_id):
                form.offer_drafts(item)
                self.seen[round_id] = item
        names = {item.agent_id: item.name for item in pending.agents}
        order: list[int] = []
        drawing = {item.id for item in new}
        for index, item in enumerate(page):
            if item.id not in self.forms and item.id not in drawing:
                continue  # drawn by the next refresh, right after this one
            if item.id not in self.forms:
                with self.container:
                    self.forms[item.id] = RoundForm(
                        item,
                        agent_name=names.get(item.agent_id, item.agent_id[:8]),
                        on_done=self.done,
                        context=self.contexts.pop(item.id, None),
                        opened=index < OPEN_CARDS,
                    )
                self.seen[item.id] = item
            order.append(item.id)
        order += [round_id for round_id, form in self.forms.items() if form.sticky and round_id not in order]
        self.promised = {round_id for round_id in self.promised if round_id in waiting and round_id not in self.forms}
        held = sum(item.id not in self.forms and item.id not in self.promised for item in page) if hold else 0
        self._show(order, waiting=len(waiting), held=held)
        for round_id in order[:OPEN_CARDS]:
            self.forms[round_id].open()  # moved up to the top: the person is about to answer it
        if self.advance_from and self.advance_from in order[:-1]:
            self.selected, self.advance_from = self.advance_from, 0
            self.select(1)
        self._options(pending)
        shown = len(page)
        self.count.set_text(_count(shown, matched, len(waiting), filtered=bool(view.agent or view.tool)))
        self.more.set_text(f"Show more ({min(PAGE_SIZE, matched - shown):,} of {matched - shown:,} more)")
        self.more.set_visibility(matched > shown)
        self.held_text.set_text(
            f"Rounds are arriving fast: {held:,} new on this page not drawn yet, to keep the webhook quick. "
            "They appear when the burst eases."
        )
        self.held.set_visibility(held > 0)
        if any(item.id not in self.forms for item in page):
            self.next_batch.ask(NEXT_BATCH_SECONDS if self.promised else next_batch_seconds())
        url = f"/?{_query(view)}" if _query(view) else "/"
        if url != self.url:
            self.url = url
            ui.navigate.history.replace(url)

    def _page(self, pending: PendingRounds, view: inbox.InboxView) -> tuple[list[RoundPublic], int]:
        """The first ``limit`` rounds of the view that were not taken away here, and how many there are in all."""
        arranged = pending.arranged(view)
        page = [item for item in arranged[: self.limit + len(self.left)] if item.id not in self.left][: self.limit]
        taken = inbox.arrange_rounds((pending.rounds[i] for i in self.left if i in pending.rounds), view)
        return page, len(arranged) - len(taken)

    def _show(self, order: list[int], *, waiting: int, held: int) -> None:
        """Show the cards of ``order`` in that order, hide the others (keeping what was typed in them); ``held``:
        new rounds of the page a burst holds back (then the held notice, not the empty one, says why none shows)."""
        wanted = set(order)
        for round_id, form in self.forms.items():
            form.card.set_visibility(round_id in wanted)
        by_card = {form.card.id: round_id for round_id, form in self.forms.items()}
        now = [by_card[child.id] for child in self.container.default_slot.children if child.id in by_card]
        if [round_id for round_id in now if round_id in wanted] != order:
            for index, round_id in enumerate(order):
                self.forms[round_id].card.move(self.container, target_index=index + 1)  # after the empty notice
        self.shown = order
        self.empty.set_text(
            "No round is waiting. Start a run on the Agents page."
            if not waiting
            else f"No waiting round matches these filters ({waiting} waiting in all)."
        )
        self.empty.set_visibility(not order and not held)

    def _options(self, pending: PendingRounds) -> None:
        """Agents as the platform lists them; tools of the chosen agent (or every agent), and of pending rounds."""
        agent_options = {"": "every agent", **{item.agent_id: item.name for item in pending.agents}}
        tool_options = {"": "every tool", **{name: name for name in sorted(pending.tools(self.view.agent))}}
        for select, options, value in (
            (self.agent, agent_options, self.view.agent),
            (self.tool, tool_options, self.view.tool),
        ):
            if value and value not in options:
                options[value] = f"{value} (none listed)"
            if options != select.options:
                select.set_options(options, value=value or "")

    def done(self, round_id: int) -> None:
        """Take a card away that a person finished here (answered, skipped, cancelled, dismissed): it stays away
        while the round is still pending here (a cancel's webhook is still on its way)."""
        self.left.add(round_id)
        self._drop(round_id)

    def _drop(self, round_id: int) -> None:
        form = self.forms.pop(round_id, None)
        self.seen.pop(round_id, None)
        if form is not None:
            self.container.remove(form.card)
        if round_id in self.shown:
            self.shown = [item for item in self.shown if item != round_id]
        self.empty.set_visibility(not self.shown and not self.held.visible)

    def select(self, step: int) -> RoundForm | None:
        """Move the highlight ``step`` shown cards (0: keep it); returns the highlighted form."""
        order = [round_id for round_id in self.shown if round_id in self.forms]
        if not order:
            return None
        current = order.index(self.selected) if self.selected in order else -1
        index = min(max(current + step, 0), len(order) - 1) if current >= 0 else 0
        for round_id, form in self.forms.items():
            form.card.classes(remove="ring-2 ring-primary")
            if round_id == order[index]:
                form.card.classes(add="ring-2 ring-primary")
        self.selected = order[index]
        return self.forms[order[index]]

    async def on_key(self, action: str) -> None:
        self.advance_from = 0  # a later key wins over a next page still being drawn
        if action == "next" and self.shown and self.selected == self.shown[-1] and self.more.visible:
            # j on the last card drawn: the next page, and its first card once drawn (this refresh may only ride
            # along with one already running, which does not draw the next page)
            self.advance_from = self.selected
            await self.show_more()
            return
        form = self.select({"next": 1, "previous": -1}.get(action, 0))
        if form is None:
            return
        if action == "open":
            form.open()
            field = form.fields[0].output
            # after the browser has drawn a field built just now
            ui.run_javascript(f"setTimeout(() => runMethod({field.id}, 'focus', []), 50)")
        elif action == "submit":
            await form.send()


def _count(shown: int, matched: int, waiting: int, *, filtered: bool) -> str:
    """The line above the cards: "50 of 1,000 waiting"; under a filter "2 of 40 matching · 1,000 waiting in all"
    (``matched``: the filter's rounds, those taken away here aside)."""
    if not filtered:
        return f"{shown:,} of {waiting:,} waiting" if shown != waiting else f"{waiting:,} waiting"
    part = f"{shown:,} of {matched:,} matching" if shown != matched else f"{matched:,} matching"
    return f"{part} · {waiting:,} waiting in all"


def _query(view: inbox.InboxView) -> str:
    """The view as a query string, leaving out defaults."""
    defaults = inbox.InboxView().model_dump()
    return urlencode({key: value for key, value in view.model_dump().items() if value and value != defaults[key]})
