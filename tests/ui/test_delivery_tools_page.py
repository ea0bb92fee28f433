"""The Deliveries page's search by text, *Copy as curl* and a replay's diff, as a person sees them."""

from __future__ import annotations

from nicegui import ui
from nicegui.testing import User

from app.states import Role
from tests.builders import Console, encode, make_status, set_value, sign, sign_in_user, wait_for


def _rows(user: User) -> list[dict]:
    [table] = user.find(marker="deliveries-table").elements
    assert isinstance(table, ui.table)
    return table.rows


async def _open_row(user: User, delivery_id: int) -> None:
    await wait_for(lambda: any(row["id"] == str(delivery_id) for row in _rows(user)))
    user.find(marker="deliveries-table").trigger("rowClick", [{}, {"id": str(delivery_id)}])
    await user.should_see(marker="delivery-dialog")


async def test_deliveries_page_search_by_text_keeps_it_in_the_url(user: User, console: Console):
    await console.deliver(
        make_status(8401, tool_calls=[{"id": "c", "name": "get_weather", "arguments": {"city": "Porto"}}]), "m1"
    )
    await console.deliver(make_status(8402), "m2")
    await user.open("/deliveries?q=Porto")
    await user.should_see("1 delivery")
    assert [row["task_id"] for row in _rows(user)] == ["8401"]
    set_value(user, "deliveries-search", "")
    await user.should_see("2 deliveries")
    set_value(user, "deliveries-search", "get_current_time")
    await user.should_see("1 delivery")
    assert [row["task_id"] for row in _rows(user)] == ["8402"]


async def test_copy_as_curl_of_verified_delivery_is_signed(user: User, console: Console):
    await console.deliver(make_status(8403), "m_8403")
    [stored] = (await console.get("/api/deliveries", params={"task_id": 8403})).json()["deliveries"]
    await user.open("/deliveries")
    await _open_row(user, stored["id"])
    user.find(marker="copy-curl").click()
    await user.should_see(content="Signed with the console's current secret", marker="curl-note")
    await user.should_see(content="webhook-signature: v1,", marker="curl-command")
    await user.should_see(content="webhook-id: m_8403", marker="curl-command")


async def test_copy_as_curl_of_refused_delivery_says_it_is_not_signed(user: User, console: Console):
    body = encode(make_status(8404))
    assert (
        await console.post_webhook(body, sign(body, msg_id="m_8404") | {"webhook-signature": "v1,AAAA"})
    ).status_code == 401
    [stored] = (await console.get("/api/deliveries", params={"task_id": 8404})).json()["deliveries"]
    await user.open("/deliveries")
    await _open_row(user, stored["id"])
    user.find(marker="copy-curl").click()
    await user.should_see(content="No signature: it was refused (bad_signature)", marker="curl-note")
    [command] = user.find(marker="curl-command").elements
    assert isinstance(command, ui.label) and command.text.startswith("curl ")
    assert "webhook-signature" not in command.text and "webhook-timestamp" not in command.text


async def test_replay_diff_shows_side_by_side_then_unified(user: User, console: Console):
    await console.deliver(make_status(8405, status="running", sequence=1, round=None), "m_8405")
    [stored] = (await console.get("/api/deliveries", params={"task_id": 8405})).json()["deliveries"]
    edited = make_status(8405, status="completed", sequence=2, round=None, result="edited-here")
    replay = (await console.post(f"/api/deliveries/{stored['id']}/replay", json={"body": edited})).json()
    await user.open("/deliveries")
    await _open_row(user, replay["delivery_id"])
    user.find(marker="diff-original").click()
    await user.should_see(content="The bodies differ:", marker="diff-body-differs")
    await user.should_see(content="console_made: false → true", marker="diff-change-console_made")
    await user.should_see(content="edited-here", marker="diff-side-by-side")
    await user.should_not_see(marker="diff-unified")
    user.find(marker="diff-mode").elements.pop().set_value("unified")
    await user.should_see(content="+  &quot;result&quot;: &quot;edited-here&quot;", marker="diff-unified")
    await user.should_not_see(marker="diff-side-by-side")


async def test_delivery_that_is_not_a_replay_has_no_diff_button(user: User, console: Console):
    await console.deliver(make_status(8406), "m_8406")
    [stored] = (await console.get("/api/deliveries", params={"task_id": 8406})).json()["deliveries"]
    await user.open("/deliveries")
    await _open_row(user, stored["id"])
    await user.should_see(marker="copy-curl")
    await user.should_not_see(marker="diff-original")


async def test_viewer_sees_the_stored_signature_hidden(user: User, console: Console):
    await console.deliver(make_status(8409), "m_8409")
    [stored] = (await console.get("/api/deliveries", params={"task_id": 8409})).json()["deliveries"]
    sign_in_user(user, role=Role.VIEWER, name="vera")
    await user.open("/deliveries")
    await _open_row(user, stored["id"])
    await user.should_see(content="hidden: only an admin sees a stored signature", marker="delivery-headers")
    await user.should_not_see(content="v1,", marker="delivery-headers")
    await user.should_see(content="m_8409", marker="delivery-headers")


async def test_admin_sees_the_stored_signature(user: User, console: Console):
    await console.deliver(make_status(8410), "m_8410")
    [stored] = (await console.get("/api/deliveries", params={"task_id": 8410})).json()["deliveries"]
    await user.open("/deliveries")
    await _open_row(user, stored["id"])
    await user.should_see(content=stored["headers"]["webhook-signature"], marker="delivery-headers")


async def test_a_delivery_is_not_opened_once_the_session_has_ended(user: User, console: Console):
    """Signed out elsewhere (or removed), a Deliveries tab still open opens no delivery: it goes to sign-in."""
    from app.runtime import get_runtime
    from app.services import sign_in
    from app.ui import access

    await console.deliver(make_status(8471), "m_ended")
    await user.open("/deliveries")
    [delivery] = (await console.get("/api/deliveries", params={"task_id": 8471})).json()["deliveries"]
    await wait_for(lambda: any(row["id"] == str(delivery["id"]) for row in _rows(user)))
    with user:
        current = access.current()
    assert current is not None
    sign_in.end_session(engine=get_runtime().engine, id_hash=current.session_hash)
    user.find(marker="deliveries-table").trigger("rowClick", [{}, {"id": str(delivery["id"])}])
    await user.should_see(marker="signin")
    await user.should_not_see(marker="delivery-dialog")
