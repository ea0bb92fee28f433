"""Keys: j/k move through the inbox, Ctrl+Enter submits the selected round, ? lists the keys."""

from __future__ import annotations

import httpx
from nicegui.testing import User

from app.runtime import Runtime
from tests.builders import encode, make_status, sign


def _press(user: User, key: str, *, ctrl: bool = False, marker: str = "keys") -> None:
    user.find(marker=marker).trigger(
        "key",
        {
            "action": "keydown",
            "repeat": False,
            "altKey": False,
            "ctrlKey": ctrl,
            "metaKey": False,
            "shiftKey": False,
            "key": key,
            "code": key,
            "location": 0,
        },
    )


async def test_keys_select_round_and_submit_with_ctrl_enter(user: User, console: httpx.AsyncClient, runtime: Runtime):
    for task_id in (8401, 8402):
        raw = encode(make_status(task_id))
        assert (
            await console.post("/webhooks/sudoiq", content=raw, headers=sign(raw, msg_id=f"m{task_id}"))
        ).status_code == 200
    await user.open("/")
    await user.should_see("run 8402 · round 1")
    _press(user, "j")  # first card
    _press(user, "j")  # second card: run 8402
    rounds = {r["task_id"]: r for r in (await console.get("/api/rounds")).json()}
    with user.scope(marker=f"round-{rounds[8402]['id']}"):  # both cards have a call_1: fill the second one
        user.find(marker="result-call_1").type("typed for 8402")
    _press(user, "Enter", ctrl=True, marker="keys-anywhere")
    await user.should_see("Not accepted: platform answered 404")  # 8402 is unknown to the simulator: it was sent
    run = (await console.get("/api/runs/8402")).json()
    assert run["rounds"][0]["state"] == "closed" and rounds[8401]["state"] == "pending"


async def test_question_mark_lists_keys(user: User):
    await user.open("/")
    await user.should_see(marker="keys")
    _press(user, "?")
    await user.should_see("submit the selected round (works while typing)")
