from tests.builders import AGENT_ID, encode, make_status, sign


async def test_webhook_applies_awaiting_round(console):
    body = encode(make_status(7001))
    response = await console.post("/webhooks/sudoiq", content=body, headers=sign(body, msg_id="msg_1"))
    assert response.status_code == 200, response.text
    rounds = (await console.get("/api/rounds", params={"state": "pending"})).json()
    assert [(r["task_id"], r["agent_id"], r["round"]) for r in rounds] == [(7001, AGENT_ID, 1)]
