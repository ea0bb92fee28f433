"""Handlers in the inbox: a suggestion pre-fills the form; a person approves or edits it."""

from __future__ import annotations

from nicegui.testing import User

from app.runtime import Runtime
from tests.builders import CLOCK, TRIP, Console, wait_for


async def test_suggestion_prefills_and_person_completes_round(user: User, console: Console, runtime: Runtime):
    await console.save_handler(
        agent_id=TRIP, tool_name="get_weather", kind="static", mode="suggest", spec={"output": "Drizzle, 11 °C"}
    )
    await user.open("/")
    task_id = await console.start(TRIP)
    await user.should_see(f"run {task_id} · round 1", retries=100)
    [round_] = await console.pending()
    calls = {c["name"]: c["tool_call_id"] for c in round_["tool_calls"]}
    await user.should_see("suggested by static handler v1", retries=50)
    await user.should_see("Drizzle, 11 °C")
    user.find(marker=f"result-{calls['search_flights']}").type("TP 1351")
    user.find(marker=f"submit-{round_['id']}").click()
    await user.should_see(f"Round 1 of run {task_id} sent", retries=50)  # the platform answers first

    async def answered() -> list:
        return (await console.run(task_id))["rounds"][0]["results"]

    results = {r["tool_call_id"]: (r["output"], r["answered_by"]) for r in await wait_for(answered)}
    assert results == {
        calls["get_weather"]: ("Drizzle, 11 °C", "static handler v1"),
        calls["search_flights"]: ("TP 1351", "person: admin-user"),  # the signed-in user
    }


async def test_save_as_rule_from_run_page(user: User, console: Console):
    task_id = await console.start(CLOCK)
    round_ = await console.pending_round(task_id)
    call_id = round_["tool_calls"][0]["tool_call_id"]
    await console.answer(round_, {"get_current_time": "quarter past"})
    # the platform's answer to the submission redraws the run page: a click meanwhile hits a button taken away
    await console.wait_for_status(task_id, "completed", acknowledged=True)
    await user.open(f"/runs/{task_id}")
    await user.should_see(marker=f"save-rule-{call_id}")
    user.find(marker=f"save-rule-{call_id}").click()
    await user.should_see("Saved as a rule of get_current_time")
    [handler] = (await console.get("/api/handlers")).json()
    assert handler["kind"] == "rules" and handler["spec"]["rules"][0]["response"]["output"] == "quarter past"
