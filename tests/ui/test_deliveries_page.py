"""The deliveries log: every request with its verdict; replay, and edit then replay."""

from __future__ import annotations

import json

from nicegui import ui
from nicegui.testing import User

from tests.builders import Console, encode, make_status, sign, wait_for


def _rows(user: User) -> list[dict]:
    [table] = user.find(marker="deliveries-table").elements
    assert isinstance(table, ui.table)
    return table.rows


async def test_deliveries_page_filters_refused(user: User, console: Console):
    good = encode(make_status(8301))
    assert (await console.post_webhook(good, sign(good, msg_id="m_ok"))).status_code == 200
    assert (
        await console.post_webhook(good, sign(good, msg_id="m_bad") | {"webhook-signature": "v1,AAAA"})
    ).status_code == 401
    await user.open("/deliveries?verdict=bad_signature")
    await user.should_see(marker="deliveries-table")
    await wait_for(lambda: _rows(user))
    assert [row["webhook_id"] for row in _rows(user)] == ["m_bad"]


async def test_replay_edited_body_applies_as_new_delivery(console: Console):
    body = encode(make_status(8302, status="running", sequence=1, round=None))
    assert (await console.post_webhook(body, sign(body, msg_id="m_run"))).status_code == 200
    [stored] = (await console.get("/api/deliveries", params={"task_id": 8302})).json()["deliveries"]
    same = await console.post(f"/api/deliveries/{stored['id']}/replay", json={})
    assert same.json()["verdict"] == "history"  # the same sequence again never moves the run
    edited = make_status(8302, status="completed", sequence=2, result="replayed")
    done = await console.post(f"/api/deliveries/{stored['id']}/replay", json={"body": edited})
    assert done.status_code == 200 and done.json()["verdict"] == "applied"
    run = (await console.get("/api/runs/8302")).json()
    assert (run["status"], run["result"]) == ("completed", "replayed")
    log = (await console.get("/api/deliveries", params={"task_id": 8302})).json()["deliveries"]
    assert [(d["replay_of"], d["webhook_id"].startswith("replay-")) for d in log] == [
        (stored["id"], True),
        (stored["id"], True),
        (None, False),
    ]
    newest = (await console.get(f"/api/deliveries/{log[0]['id']}")).json()
    assert json.loads(newest["body"])["result"] == "replayed"


async def test_replay_unknown_delivery_is_404(console: Console):
    response = await console.post("/api/deliveries/999/replay", json={})
    assert response.status_code == 404
