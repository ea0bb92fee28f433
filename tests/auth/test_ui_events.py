"""A page's event handlers check the role and the session on the server: a browser can send any event."""

from __future__ import annotations

from nicegui.testing import User

from app.runtime import get_runtime
from app.services import sign_in
from app.states import Role
from app.ui import access
from tests.builders import Console, make_status, sign_in_user


async def test_event_needing_a_higher_role_is_refused_on_the_server(user: User):
    sign_in_user(user, role=Role.VIEWER)
    await user.open("/")
    called: list[int] = []
    with user:
        await access.guarded(Role.ANSWERER, lambda: called.append(1))()
    assert called == []
    await user.should_see("This needs the role answerer; you are viewer")


async def test_event_after_sign_out_elsewhere_goes_to_sign_in(user: User):
    await user.open("/")
    with user:
        current = access.current()
    assert current is not None
    sign_in.end_session(engine=get_runtime().engine, id_hash=current.session_hash)
    called: list[int] = []
    with user:
        await access.guarded(Role.VIEWER, lambda: called.append(1))()
    assert called == []
    await user.should_see(marker="signin", retries=50)


async def test_viewer_cannot_submit_a_round(user: User, console: Console):
    sign_in_user(user, role=Role.VIEWER)
    await console.deliver(make_status(7601), "msg_viewer")
    await user.open("/")
    [round_] = await console.pending()
    await user.should_see(marker=f"submit-{round_['id']}")
    assert not user.find(marker=f"submit-{round_['id']}").elements.pop().enabled
