"""Inbox: pending rounds, live. A new round appears without reload; answered ones leave.

Cards are kept by round id, so a round arriving never wipes what a person is
typing in another one.
"""

import asyncio

from nicegui import ui

from app.runtime import get_runtime
from app.services import agents, rounds
from app.ui.components.round_form import RoundForm
from app.ui.components.round_notice import say_why_rounds_left
from app.ui.live import Live


def page(live: Live) -> None:
    ui.page_title("Inbox · Tooldesk")
    ui.label("Inbox").classes("text-2xl font-bold")
    ui.label("Rounds of tool calls waiting for an answer. Fill in every result, then submit.").classes("text-grey-7")
    container = ui.column().classes("w-full gap-4")
    with container:
        empty = (
            ui.label("No round is waiting. Start a run on the Agents page.")
            .classes("text-grey-6 italic")
            .mark("inbox-empty")
        )
    forms: dict[int, RoundForm] = {}

    def done(round_id: int) -> None:
        form = forms.pop(round_id, None)
        if form is not None:
            container.remove(form.card)
        empty.set_visibility(not forms)

    async def refresh(_task_id: int = 0) -> None:
        engine = get_runtime().engine
        pending, known = await asyncio.to_thread(
            lambda: (rounds.list_pending_rounds(engine=engine), agents.list_agents(engine=engine))
        )
        names = {agent.agent_id: agent.name for agent in known}
        ids = {item.id for item in pending}
        gone = [round_id for round_id, form in forms.items() if round_id not in ids and not form.sticky]
        for round_id in gone:
            done(round_id)
        await say_why_rounds_left(gone)
        for item in pending:
            if item.id in forms:
                forms[item.id].offer_drafts(item)
            else:
                with container:
                    forms[item.id] = RoundForm(
                        item, agent_name=names.get(item.agent_id, item.agent_id[:8]), on_done=done
                    )
        empty.set_visibility(not forms)

    selected = {"round_id": 0}

    def select(step: int) -> RoundForm | None:
        """Move the highlight ``step`` cards (0: keep it); returns the highlighted form."""
        order = list(forms)
        if not order:
            return None
        current = order.index(selected["round_id"]) if selected["round_id"] in order else -1
        index = min(max(current + step, 0), len(order) - 1) if current >= 0 else 0
        for round_id, form in forms.items():
            form.card.classes(remove="ring-2 ring-primary")
            if round_id == order[index]:
                form.card.classes(add="ring-2 ring-primary")
        selected["round_id"] = order[index]
        return forms[order[index]]

    async def on_key(action: str) -> None:
        form = select({"next": 1, "previous": -1}.get(action, 0))
        if form is None:
            return
        if action == "open":
            form.fields[0].output.run_method("focus")
        elif action == "submit":
            await form.send()

    live.listen(refresh, keys=on_key)
    ui.timer(0, refresh, once=True)
