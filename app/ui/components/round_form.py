"""A pending round as a form: each tool call with its arguments, a result field and an is_error switch.

Calls are told apart by ``tool_call_id`` and arguments (case C07: the same tool
twice), and each result goes to its own id. Submit refuses while a result is
empty and names the call; the platform's refusal is shown in words.

What a person types is their typed draft (``app.services.typed_drafts``): saved about a second after the last
keystroke and when a field loses focus, and filled back in when the card is drawn again. When the round leaves
the inbox without this tab sending it, a card with typed text stays and says who answered and when (case C15);
at ``expires_at`` Submit turns off (case C14). ``round_status`` draws that line.

A card drawn with ``opened=False`` is light: its calls are one text (``calls_summary``) and its fields are built
by ``open()`` (with *Skip* and *Cancel run*), when the person asks for them (*Answer*, ``Enter``, *Submit*), when a typed
draft of theirs is filled back in, or when the card moves near the top of the inbox (``app.ui.pages.inbox``).
"""

import asyncio
from collections.abc import Callable
from typing import Literal

from nicegui import background_tasks, ui

from app.answerers import INBOX_USER
from app.errors import PlatformError, TooldeskError
from app.models import RoundPublic
from app.runtime import get_runtime
from app.services import typed_drafts
from app.services.inbox import RoundContext
from app.services.rounds import leaves_round_pending, submit_round
from app.states import Role, RoundState
from app.ui import access
from app.ui.components.draft_keeper import DraftKeeper
from app.ui.components.result_editor import MAX_RESULT_CHARS as MAX_RESULT_CHARS  # where it was defined before
from app.ui.components.round_actions import RoundActions
from app.ui.components.round_context import show_context
from app.ui.components.round_form_fields import ANSWERED_BY as ANSWERED_BY
from app.ui.components.round_form_fields import CallField, calls_summary, signed_in_person, too_many_calls
from app.ui.components.round_status import RoundStatus
from app.ui.format import clock


class RoundForm:
    """One card per pending round; ``on_done(round_id)`` runs once the platform accepted it."""

    def __init__(
        self,
        round_: RoundPublic,
        *,
        agent_name: str,
        on_done: Callable[[int], None],
        context: RoundContext | None = None,
        opened: bool = True,
    ) -> None:
        self.round = round_
        self.on_done = on_done
        self.sticky = False
        self.closed = False  # the round left the inbox, or expired: nothing more is saved or sent
        self.sending = False
        self.person = signed_in_person().user or INBOX_USER
        self.keeper = DraftKeeper(round_.id, self.person, active=lambda: not self.closed and not self.sending)
        with ui.card().classes("w-full").mark(f"round-{round_.id}") as self.card:
            with ui.row().classes("w-full items-center gap-3") as self.header:  # Skip and Cancel run come on open
                ui.label(f"{agent_name} · run {round_.task_id} · round {round_.round}").classes("text-base font-bold")
                ui.label(f"opened {clock(round_.opened_at)}").classes("text-xs text-grey-7 ml-auto")
                ui.link("run", f"/runs/{round_.task_id}").classes("text-xs")
            show_context(context, round_id=round_.id)  # the run's inputs and earlier rounds
            self.status = RoundStatus(
                round_.id, round_.expires_at, person=self.person, on_take_over=self.keeper.take_over
            )
            self.fields: list[CallField] = []
            self.calls = ui.column().classes("w-full gap-3")
            with self.calls:
                self.summary: ui.label | None = (
                    ui.label(calls_summary(round_))
                    .classes("w-full font-mono text-sm whitespace-pre-wrap break-all bg-grey-2 rounded p-2")
                    .mark(f"calls-{round_.id}")
                )
                self.answer: ui.button | None = (
                    ui.button("Answer", icon="edit", on_click=self.open)
                    .props("flat dense no-caps size=sm")
                    .mark(f"answer-{round_.id}")
                )
            self.problem = ui.label(round_.message).classes("text-negative text-sm").mark(f"problem-{round_.id}")
            self.problem.set_visibility(bool(round_.message))
            self.submit = ui.button(
                f"Submit {len(round_.tool_calls)} result(s)",
                icon="send",
                on_click=access.guarded(Role.ANSWERER, self.send),
            ).mark(f"submit-{round_.id}")
            if not access.may(Role.ANSWERER):
                self.submit.disable()
                self.submit.tooltip(f"answering needs the role {Role.ANSWERER}")
            self.crowded = too_many_calls(round_)  # then no fields: the API or a handler answers it
            if self.crowded is not None:
                self.submit.disable()
                self.problem.set_text(self.crowded)
                self.problem.set_visibility(True)
        self.latest = round_  # the round as last read: its handler drafts fill the fields on open
        self.keeper.open_fields = self.open
        if opened:
            self.open()
        if self.status.expired:  # drawn after its expires_at
            self._expired()

    @property
    def opened(self) -> bool:
        """Whether the card's fields are built (``open``)."""
        return self.summary is None

    def open(self) -> None:
        """Build the fields of every call in place of the light summary, filled with the handlers' drafts."""
        if self.summary is None or self.crowded is not None:
            return
        self.calls.clear()
        self.summary = self.answer = None
        with self.header:
            RoundActions(self.round, on_left=self._left, answered_by=signed_in_person)  # Skip, Cancel run
        with self.calls:
            self.fields = [CallField(call, self.keeper.changed, self.keeper.blurred) for call in self.round.tool_calls]
        self.keeper.fields = self.fields
        self.offer_drafts(self.latest)
        if self.closed:
            for field in self.fields:
                field.lock()

    def tick(self, now: float) -> None:
        """Refresh the status line; at ``expires_at`` turn Submit off (case C14)."""
        if self.status.tick(now):
            self._expired()

    def _expired(self) -> None:
        self.submit.disable()
        self.problem.set_text("The round expired: the platform would refuse an answer (410). Your text stays here.")
        self.problem.set_visibility(True)

    async def should_leave(self) -> bool:
        """The round is no longer pending. True: the card can go (nothing of the person's own in it). Else the
        card stays, says who answered and when (or that it expired or closed), keeps the text and offers Dismiss."""
        if self.sending or self.sticky:
            return False
        if not any(field.holds_typing() for field in self.fields):
            return True
        engine, round_id = get_runtime().engine, self.round.id
        outcome = await asyncio.to_thread(lambda: typed_drafts.round_outcome(engine=engine, round_id=round_id))
        self.closed = True
        for field in self.fields:
            field.lock()
        self.status.finish(outcome)
        self._keep()
        return False

    def offer_drafts(self, round_: RoundPublic) -> None:
        """Pre-fill the calls that a handler answered since the card was drawn (on ``open`` for a light card)."""
        self.latest = round_
        if self.summary is not None:
            self.summary.set_text(calls_summary(round_))
        by_call = {draft.tool_call_id: draft for draft in round_.drafts}
        for field in self.fields:
            draft = by_call.get(field.call.tool_call_id)
            if draft is not None:
                field.offer(draft)

    async def send(self) -> None:
        if self.sending:  # a second Ctrl+Enter or click while the first submission is on its way
            return
        if self.closed or self.status.expired:
            self._show("Not sent: the round is no longer waiting for an answer")
            return
        if self.crowded is not None:
            self._show(f"Not sent: {self.crowded}")
            return
        self.open()  # a light card's Submit: the handlers' drafts may answer every call
        problems = [p for p in (field.problem() for field in self.fields) if p]
        if problems:
            self._show("Not sent: " + "; ".join(problems))
            return
        runtime = get_runtime()
        self.submit.props("loading")
        self.sending = True
        try:
            sent = await submit_round(
                engine=runtime.engine,
                outbox=runtime.outbox,
                round_id=self.round.id,
                results=[field.result() for field in self.fields],
                answered_by=signed_in_person(),
                sources={field.call.tool_call_id: field.source() for field in self.fields},
            )
        except TooldeskError as exc:
            said = f"platform answered {exc.status} {exc.code}: " if isinstance(exc, PlatformError) else ""
            self._show(f"Not accepted: {said}{exc.message}")
            if not leaves_round_pending(exc):  # keep the card and its reason on screen until dismissed
                self._keep()
            runtime.round_answered(self.round.task_id)
            return
        finally:
            self.sending = False
            self.submit.props(remove="loading")
        if sent.state == RoundState.SUBMITTING:
            self._show(
                f"Stored, not yet accepted: {sent.message}. The outbox keeps trying; the run page follows it.",
                kind="warning",
            )
            self._keep()
        else:
            ui.notify(f"Round {self.round.round} of run {self.round.task_id} sent", type="positive")
            self.closed = True
            self.on_done(self.round.id)
            await self.keeper.discard()
        runtime.round_answered(self.round.task_id)

    def _left(self, round_id: int) -> None:
        """Skip or Cancel run took the round away here: the card goes, and so does the typed draft."""
        self.closed = True
        self.on_done(round_id)
        background_tasks.create(self.keeper.discard(), name=f"discard typed draft of round {round_id}")

    def _keep(self) -> None:
        self.sticky = True
        self.submit.disable()
        with self.card:
            ui.button("Dismiss", icon="close", on_click=lambda: self.on_done(self.round.id)).props("flat").mark(
                f"dismiss-{self.round.id}"
            )

    def _show(self, message: str, kind: Literal["negative", "warning"] = "negative") -> None:
        self.problem.set_text(message)
        self.problem.set_visibility(True)
        ui.notify(message, type=kind, multi_line=True, close_button="OK", timeout=10000)
