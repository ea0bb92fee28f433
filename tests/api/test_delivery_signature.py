"""A stored ``webhook-signature`` is shown to admins only: with the body, ``webhook-id`` and
``webhook-timestamp`` it is a delivery anyone could send again within the 5 minutes' tolerance."""

from __future__ import annotations

from app.services.deliveries import SIGNATURE_HIDDEN
from app.services.ingest_store import REPLAY_SIGNATURE
from app.states import Role
from tests.builders import Console, make_status, make_token


def _viewer() -> dict[str, str]:
    return {"Authorization": f"Bearer {make_token(role=Role.VIEWER, name='viewer')}"}


async def _stored(console: Console, task_id: int) -> dict:
    await console.deliver(make_status(task_id, status="running", sequence=1, round=None), f"m_{task_id}")
    [stored] = (await console.get("/api/deliveries", params={"task_id": task_id})).json()["deliveries"]
    return dict(stored)


async def test_viewer_sees_no_signature_in_list_or_detail_and_admin_does(console: Console):
    stored = await _stored(console, 7811)
    assert stored["headers"]["webhook-signature"].startswith("v1,")  # the console's client is an admin
    viewer = _viewer()
    [listed] = (await console.get("/api/deliveries", params={"task_id": 7811}, headers=viewer)).json()["deliveries"]
    assert listed["headers"]["webhook-signature"] == SIGNATURE_HIDDEN
    assert listed["headers"]["webhook-id"] == "m_7811"  # the rest as stored
    one = (await console.get(f"/api/deliveries/{stored['id']}", headers=viewer)).json()
    assert one["headers"]["webhook-signature"] == SIGNATURE_HIDDEN
    assert "v1," not in str(one)
    admin = (await console.get(f"/api/deliveries/{stored['id']}")).json()
    assert admin["headers"]["webhook-signature"] == stored["headers"]["webhook-signature"]


async def test_viewer_sees_no_signature_in_a_replays_diff(console: Console):
    stored = await _stored(console, 7812)
    replay = (await console.post(f"/api/deliveries/{stored['id']}/replay", json={})).json()
    url = f"/api/deliveries/{replay['delivery_id']}/diff"
    seen = {h["name"]: h for h in (await console.get(url, headers=_viewer())).json()["headers"]}
    assert seen["webhook-signature"]["original"] == SIGNATURE_HIDDEN
    assert seen["webhook-signature"]["replay"] == REPLAY_SIGNATURE  # says no signature was kept: nothing to hide
    admin = {h["name"]: h for h in (await console.get(url)).json()["headers"]}
    assert admin["webhook-signature"]["original"] == stored["headers"]["webhook-signature"]
