"""The deliveries log: every request with its verdict; replay, and edit then replay."""

from __future__ import annotations

import json

import pytest
from nicegui import ui
from nicegui.testing import User

from tests.builders import Console, encode, make_status, settled, sign, take_errors, wait_for


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


async def test_deliveries_page_shows_cut_body_note(user: User, console: Console):
    body = encode(make_status(8304, status="completed", sequence=9, result="x" * 30_000))
    forged = sign(body, msg_id="m_cut") | {"webhook-signature": "v1,AAAA"}
    assert (await console.post_webhook(body, forged)).status_code == 401
    await user.open("/deliveries")
    await user.should_see(marker="deliveries-table")
    [row] = await wait_for(lambda: _rows(user))
    assert row["body"].startswith("first 4 KB of 29 KB, sha256 ")
    assert row["task_id"] == "8304 (claimed, unverified)"
    user.find(marker="deliveries-table").trigger("rowClick", [{}, {"id": row["id"]}])
    await user.should_see("Body kept: first 4 KB of 29 KB", marker="delivery-body-note")


async def _replayed_edit(console: Console, task_id: int) -> dict:
    body = encode(make_status(task_id, status="running", sequence=1, round=None))
    assert (await console.post_webhook(body, sign(body, msg_id=f"m_{task_id}"))).status_code == 200
    [stored] = (await console.get("/api/deliveries", params={"task_id": task_id})).json()["deliveries"]
    plain = await console.post(f"/api/deliveries/{stored['id']}/replay", json={})
    assert plain.json()["verdict"] == "history"
    edited = make_status(task_id, sequence=2)
    done = await console.post(f"/api/deliveries/{stored['id']}/replay", json={"body": edited})
    assert done.status_code == 200 and done.json()["verdict"] == "applied"
    return dict(done.json())


async def test_replay_edited_body_marks_delivery_and_timeline_console_made(console: Console):
    done = await _replayed_edit(console, 8305)
    log = (await console.get("/api/deliveries", params={"task_id": 8305})).json()["deliveries"]
    assert [(d["id"] == done["delivery_id"], d["console_made"]) for d in log] == [
        (True, True),
        (False, False),
        (False, False),
    ]
    events = (await console.get("/api/runs/8305")).json()["events"]
    made = [(e["kind"], e["summary"].startswith("made in the console")) for e in events if e["console_made"]]
    assert made == [("state", True), ("round_opened", True)]
    assert [e["kind"] for e in events if not e["console_made"]] == ["state", "history"]


async def test_run_page_shows_console_made_mark(user: User, console: Console):
    await _replayed_edit(console, 8306)
    await user.open("/runs/8306")
    await user.should_see(marker="timeline")
    await user.should_see("made in the console")
    state = next(e for e in (await console.run(8306))["events"] if e["console_made"])
    await user.should_see(marker=f"console-made-{state['id']}")


async def test_replay_of_console_made_delivery_stays_console_made(console: Console):
    done = await _replayed_edit(console, 8307)

    again = await console.post(f"/api/deliveries/{done['delivery_id']}/replay", json={})

    assert again.status_code == 200 and again.json()["verdict"] == "history"
    stored = (await console.get(f"/api/deliveries/{again.json()['delivery_id']}")).json()
    assert stored["console_made"] is True
    events = (await console.get("/api/runs/8307")).json()["events"]
    late = [e for e in events if e["kind"] == "history" and e["summary"].startswith("made in the console")]
    assert [e["console_made"] for e in late] == [True]


@pytest.mark.parametrize(("path", "marker"), [("/runs", "runs-table"), ("/deliveries", "deliveries-table")])
@pytest.mark.parametrize("args", [{}, {"pagination": "x"}, {"pagination": {"page": [1]}}])
async def test_table_request_without_pagination_says_so_without_error(
    user: User, caplog: pytest.LogCaptureFixture, path: str, marker: str, args: dict
):
    """A browser can send any event: a table request without usable pagination gives a message, not a traceback."""
    await user.open(path)
    await user.should_see(marker=marker)
    table = user.find(marker=marker)
    await settled(lambda: table.trigger("request", args))
    assert take_errors(caplog) == []
    await user.should_see("That page or page size is out of range")
