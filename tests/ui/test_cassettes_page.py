"""*Record as cassette* on a run's page, and the Cassettes page: downloads, playback on and off, strict or loose."""

from __future__ import annotations

import json

from nicegui.testing import User

from app.runtime import get_runtime
from tests.builders import CLOCK, Console, set_value


async def _answered_clock_run(console: Console, answer: str = "half past") -> int:
    task_id = await console.start(CLOCK)
    await console.answer(await console.pending_round(task_id), {"get_current_time": answer})
    await console.wait_for_status(task_id, "completed")
    return task_id


async def test_record_button_then_cassettes_page_lists_and_downloads_it(user: User, console: Console):
    task_id = await _answered_clock_run(console)
    await user.open(f"/runs/{task_id}")
    await user.should_see(marker="record-cassette")

    user.find(marker="record-cassette").click()

    name = f"clock-run-{task_id}"
    await user.should_see(f"Recorded as cassette {name} (1 tool calls)")
    user.find(marker="nav-cassettes").click()
    await user.should_see(marker=f"cassette-{name}")
    await user.should_see(f"recorded from run {task_id}")
    await user.should_see("1 tool calls · get_current_time")
    user.find(marker=f"download-{name}").click()
    document = json.loads((await user.download.next(timeout=5)).content)
    assert [(e["tool_name"], e["output"]) for e in document["entries"]] == [("get_current_time", "half past")]
    user.find(marker=f"pytest-{name}").click()
    module = (await user.download.next(timeout=5)).content.decode()
    assert "def cassette() -> Player:" in module
    assert '"output": "half past"' in module


async def test_playback_switch_answers_the_next_run_from_the_cassette(user: User, console: Console):
    task_id = await _answered_clock_run(console, "quarter to nine")
    response = await console.post("/api/cassettes", json={"task_id": task_id})
    name = response.json()["name"]
    await user.open("/cassettes")
    await user.should_see(marker=f"playback-{name}")

    set_value(user, f"matching-{name}", "loose")
    user.find(marker=f"playback-{name}").click()

    await user.should_see(f"Cassette {name} plays back on Clock's new runs (loose)")
    await user.should_see(marker=f"playing-{name}")
    played = await console.wait_for_status(
        await console.start(CLOCK, {"1": "Asia/Tokyo"}), "completed", acknowledged=True
    )
    sent = [b for t, b in get_runtime().simulator.received if t == played["task_id"]]  # type: ignore[union-attr]
    assert [r.output for body in sent for r in body.results] == ["quarter to nine"]  # loose: other timezone argument
    assert played["rounds"][0]["answered_by"] == f"cassette {name}"

    user.find(marker=f"playback-{name}").click()

    await user.should_see(f"Cassette {name} no longer plays")
    await user.should_not_see(marker=f"playing-{name}")
    assert (await console.get(f"/api/agents/{CLOCK}/playback")).json() == {"cassette": None}
