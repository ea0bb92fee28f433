"""On an inbox card: *Skip* (every call answered as failed, with a reason) and *Cancel run*.

Both ask first (a dialog), need the role answerer (``access.guarded``, checked again on the server), and call the
same services as the API: ``skip.skip_round`` as the signed-in person, ``runs.cancel_run`` (the run page's
*Cancel run*). Once done, ``on_left(round_id)`` takes the card away and a notice says what happened. A skip the
platform refuses is handled as a refused submission: one that leaves the round answerable (our own checks, a 422)
keeps the card, one that closes it (404, 409, 410) takes it away with the platform's words. A cancel the platform
refuses (404, 409) says so in the notice and makes the console ask the platform about the run once: the card
stays while the round is still pending, and leaves with the inbox's refresh when the run was over or is lost.
"""

from __future__ import annotations

from collections.abc import Callable

from nicegui import ui

from app.answerers import Answerer
from app.errors import PlatformError, TooldeskError
from app.models import RoundPublic
from app.runtime import get_runtime
from app.services import runs, skip
from app.services.rounds import leaves_round_pending
from app.states import Role, RoundState
from app.ui import access


class RoundActions:
    """The two buttons, for ``round_``; ``answered_by`` gives who skips (the signed-in person)."""

    def __init__(
        self, round_: RoundPublic, *, on_left: Callable[[int], None], answered_by: Callable[[], Answerer]
    ) -> None:
        self.round = round_
        self.on_left = on_left
        self.answered_by = answered_by
        self.busy = False  # a skip or cancel is on its way: a second click (a double click) does nothing
        allowed = access.may(Role.ANSWERER)
        ui.button("Skip", icon="skip_next", on_click=access.guarded(Role.ANSWERER, self.ask_skip)).props(
            "flat dense no-caps size=sm"
        ).tooltip("answer every call as failed, with a reason").mark(f"skip-{round_.id}").set_visibility(allowed)
        ui.button("Cancel run", icon="cancel", on_click=access.guarded(Role.ANSWERER, self.ask_cancel)).props(
            "flat dense no-caps size=sm color=negative"
        ).mark(f"cancel-run-{round_.id}").set_visibility(allowed)

    def ask_skip(self) -> None:
        r = self.round
        with ui.dialog() as dialog, ui.card().classes("w-[32rem] max-w-full"):
            dialog.on("hide", dialog.delete)  # one dialog per opening, gone once closed
            ui.label(f"Skip round {r.round} of run {r.task_id}").classes("text-lg font-bold")
            calls = "Its one call is" if len(r.tool_calls) == 1 else f"Each of its {len(r.tool_calls)} calls is"
            ui.label(
                f"{calls} answered as failed (is_error), with your reason as the error text; the model reads it "
                "and the run goes on."
            ).classes("text-sm text-grey-8")
            reason = (
                ui.textarea("Reason", placeholder="e.g. the booking service is down on staging today")
                .props(f"outlined autogrow autofocus maxlength={skip.MAX_REASON_CHARS}")
                .classes("w-full")
                .mark(f"skip-reason-{r.id}")
            )
            with ui.row():
                ui.button(
                    "Skip round",
                    icon="skip_next",
                    on_click=access.guarded(Role.ANSWERER, lambda: self._skip(dialog, reason.value or "")),
                ).mark(f"skip-confirm-{r.id}")
                ui.button("Back", on_click=dialog.close).props("flat")
        dialog.open()

    def ask_cancel(self) -> None:
        r = self.round
        with ui.dialog() as dialog, ui.card().classes("w-[32rem] max-w-full"):
            dialog.on("hide", dialog.delete)
            ui.label(f"Cancel run {r.task_id}?").classes("text-lg font-bold")
            ui.label(
                "The platform stops the run: this round and any later one are never answered. This cannot be undone."
            ).classes("text-sm text-grey-8")
            with ui.row():
                ui.button(
                    "Cancel run", icon="cancel", on_click=access.guarded(Role.ANSWERER, lambda: self._cancel(dialog))
                ).props("color=negative").mark(f"cancel-confirm-{r.id}")
                ui.button("Keep the run", on_click=dialog.close).props("flat")
        dialog.open()

    async def _skip(self, dialog: ui.dialog, reason: str) -> None:
        if not reason.strip():
            ui.notify("Say why the round is skipped: the model reads it as the tools' error", type="warning")
            return
        if self.busy:
            return
        self.busy = True
        try:
            await self._send_skip(dialog, reason)
        finally:
            self.busy = False

    async def _send_skip(self, dialog: ui.dialog, reason: str) -> None:
        r, runtime = self.round, get_runtime()
        answerer = self.answered_by()
        try:
            sent = await skip.skip_round(
                engine=runtime.engine,
                outbox=runtime.outbox,
                round_id=r.id,
                reason=reason,
                answered_by=answerer,
            )
        except TooldeskError as exc:
            said = f"platform answered {exc.status} {exc.code}: " if isinstance(exc, PlatformError) else ""
            ui.notify(f"Not skipped: {said}{exc.message}", type="negative", multi_line=True, close_button="OK")
            runtime.round_answered(r.task_id)
            if not leaves_round_pending(exc):
                dialog.close()
                self.on_left(r.id)
            return
        dialog.close()
        if sent.state == RoundState.SUBMITTING:
            ui.notify(
                f"Skip of round {r.round} of run {r.task_id} stored, not yet accepted: {sent.message}. "
                "The outbox keeps trying; the run page follows it.",
                type="warning",
                multi_line=True,
            )
        else:
            ui.notify(f"Round {r.round} of run {r.task_id} skipped: {reason.strip()}", type="positive")
        runtime.round_answered(r.task_id)
        self.on_left(r.id)

    async def _cancel(self, dialog: ui.dialog) -> None:
        if self.busy:
            return
        self.busy = True
        try:
            await self._send_cancel(dialog)
        finally:
            self.busy = False

    async def _send_cancel(self, dialog: ui.dialog) -> None:
        r, runtime = self.round, get_runtime()
        try:
            await runs.cancel_run(engine=runtime.engine, client=runtime.client, agent_id=r.agent_id, task_id=r.task_id)
        except TooldeskError as exc:
            if isinstance(exc, PlatformError):
                runtime.runs_reconciled([r.task_id])  # the refusal made the console ask the platform
            said = f"platform answered {exc.status} {exc.code}: " if isinstance(exc, PlatformError) else ""
            ui.notify(f"Not cancelled: {said}{exc.message}", type="negative", multi_line=True, close_button="OK")
            dialog.close()  # the card stays unless what the platform said closed its round
            return
        dialog.close()
        ui.notify(f"Run {r.task_id} cancelled: the platform's webhook will confirm it", type="info")
        self.on_left(r.id)
