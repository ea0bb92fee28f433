"""``GET /api/deliveries/{id}/diff``: a replay against the delivery it replays."""

from __future__ import annotations

from tests.builders import Console, make_status


async def _stored(console: Console, task_id: int) -> int:
    await console.deliver(make_status(task_id, status="running", sequence=1, round=None), f"m_{task_id}")
    [stored] = (await console.get("/api/deliveries", params={"task_id": task_id})).json()["deliveries"]
    return int(stored["id"])


async def test_diff_edited_replay_shows_changed_lines_both_ways(console: Console):
    original = await _stored(console, 7801)
    edited = make_status(7801, status="completed", sequence=2, round=None, result="edited")
    replay = (await console.post(f"/api/deliveries/{original}/replay", json={"body": edited})).json()
    diff = (await console.get(f"/api/deliveries/{replay['delivery_id']}/diff")).json()
    assert (diff["original_id"], diff["replay_id"], diff["body_same"]) == (original, replay["delivery_id"], False)
    assert '-  "status": "running",' in diff["unified"].splitlines()
    assert '+  "status": "completed",' in diff["unified"].splitlines()
    changed = [(line["original"], line["replay"]) for line in diff["side_by_side"] if line["tag"] == "changed"]
    assert ('  "status": "running",', '  "status": "completed",') in changed
    fields = {f["name"]: (f["original"], f["replay"]) for f in diff["fields"] if not f["same"]}
    assert "verdict" not in fields  # both applied
    assert fields["console_made"] == ("false", "true")
    assert fields["sequence"] == ("1", "2")


async def test_diff_plain_replay_has_same_body_and_new_headers(console: Console):
    original = await _stored(console, 7802)
    replay = (await console.post(f"/api/deliveries/{original}/replay", json={})).json()
    diff = (await console.get(f"/api/deliveries/{replay['delivery_id']}/diff")).json()
    assert diff["body_same"] is True and diff["unified"] == ""
    assert {line["tag"] for line in diff["side_by_side"]} == {"same"}
    headers = {h["name"]: h for h in diff["headers"]}
    assert headers["webhook-id"]["same"] is False
    assert headers["webhook-id"]["replay"].startswith(f"replay-{original}-")
    verdict = {f["name"]: f for f in diff["fields"]}["verdict"]
    assert (verdict["original"], verdict["replay"]) == ("applied", "history")


async def test_diff_of_a_delivery_that_is_not_a_replay_is_404(console: Console):
    original = await _stored(console, 7803)
    response = await console.get(f"/api/deliveries/{original}/diff")
    assert response.status_code == 404
    assert "not a replay" in response.json()["error"]["message"]


async def test_diff_of_unknown_delivery_is_404(console: Console):
    assert (await console.get("/api/deliveries/99999/diff")).status_code == 404


async def test_diff_of_many_repeated_lines_says_too_large_instead_of_aligning(console: Console):
    original = await _stored(console, 7804)
    body = make_status(7804, status="running", sequence=2, round=None, result=[0, 1] * 2500)
    first = (await console.post(f"/api/deliveries/{original}/replay", json={"body": body})).json()
    body = make_status(7804, status="running", sequence=3, round=None, result=[0, 0, 1] * 1666)
    second = (await console.post(f"/api/deliveries/{first['delivery_id']}/replay", json={"body": body})).json()
    diff = (await console.get(f"/api/deliveries/{second['delivery_id']}/diff")).json()
    assert diff["too_large"] is True and diff["body_same"] is False
    assert (diff["unified"], diff["side_by_side"]) == ("", [])
    assert diff["note"].startswith("The bodies are too large to compare line by line: 5,000 and 5,000 lines")
    assert "Read the original's first 5,000 lines and the replay's first 5,000 lines." in diff["note"]
    normal = (await console.get(f"/api/deliveries/{first['delivery_id']}/diff")).json()
    assert normal["too_large"] is False
    assert '-  "sequence": 1,' in normal["unified"].splitlines()
