"""Running handler snippets in the warm worker pool: results, every failure kind, limits and isolation."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from app.handlers.sandbox import Sandbox, SnippetOutcome, SnippetProblem, check_snippet
from tests.builders import wait_for

on_module_loop = pytest.mark.asyncio(loop_scope="module")

GOOD = "def handle(args, agent_id, task_id):\n    return f'ok {agent_id} {task_id}'\n"
INFINITE = "def handle(args, agent_id, task_id):\n    while True:\n        pass\n"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def sandbox() -> AsyncIterator[Sandbox]:
    """Two warm workers with a 1 s timeout, shared by the module's tests."""
    pool = Sandbox(workers=2, timeout=1.0)
    await pool.start()
    yield pool
    await pool.aclose()


async def call(pool: Sandbox, code: str, args: dict | None = None, **kwargs: float) -> SnippetOutcome:
    return await pool.run(code=code, args=args or {}, agent_id="agent-1", task_id=7, **kwargs)


async def assert_pool_answers(pool: Sandbox) -> None:
    """The pool is fully usable: as many good calls as it has workers answer at once."""
    outcomes = await asyncio.gather(*(call(pool, GOOD) for _ in range(pool.workers)))
    assert [o.output for o in outcomes] == ["ok agent-1 7"] * pool.workers


@on_module_loop
async def test_run_async_handle_returns_dict_as_json(sandbox: Sandbox) -> None:
    code = "async def handle(args, agent_id, task_id):\n    return {'city': args['city'], 'temp_c': 19}\n"
    outcome = await call(sandbox, code, {"city": "Zürich"})
    assert outcome == SnippetOutcome(
        output='{"city": "Zürich", "temp_c": 19}',
        is_error=False,
        failure=None,
        stdout="",
        stderr="",
        duration_ms=outcome.duration_ms,
    )


@on_module_loop
async def test_run_sync_handle_returns_str_as_is(sandbox: Sandbox) -> None:
    outcome = await call(sandbox, GOOD)
    assert (outcome.output, outcome.is_error) == ("ok agent-1 7", False)


@on_module_loop
async def test_run_args_valid_handle_gets_model_dump_dict(sandbox: Sandbox) -> None:
    code = (
        "from pydantic import BaseModel\n"
        "class Args(BaseModel):\n"
        "    city: str\n"
        "    units: str = 'C'\n"
        "def handle(args, agent_id, task_id):\n"
        "    return {'type': type(args).__name__, 'args': args}\n"
    )
    outcome = await call(sandbox, code, {"city": "Oslo"})
    assert outcome.output == '{"type": "dict", "args": {"city": "Oslo", "units": "C"}}'


@on_module_loop
async def test_run_args_invalid_is_invalid_args(sandbox: Sandbox) -> None:
    code = "from pydantic import BaseModel\nclass Args(BaseModel):\n    city: str\n    days: int\ndef handle(a, b, c):\n    return 'x'\n"
    outcome = await call(sandbox, code, {"city": "Oslo", "days": "many"})
    assert outcome.failure == "invalid_args" and outcome.is_error
    assert "days: Input should be a valid integer" in outcome.output
    await assert_pool_answers(sandbox)


@on_module_loop
async def test_run_args_not_json_is_invalid_args(sandbox: Sandbox) -> None:
    outcome = await call(sandbox, GOOD, {"when": object()})
    assert outcome.failure == "invalid_args" and "not a JSON object" in outcome.output


@on_module_loop
async def test_run_thread_left_running_recycles_worker(sandbox: Sandbox) -> None:
    code = "import threading, time\ndef handle(a, b, c):\n    threading.Thread(target=time.sleep, args=(60,), daemon=True).start()\n    return 'started'\n"
    assert (await call(sandbox, code)).output == "started"
    count = "import threading\ndef handle(a, b, c):\n    return str(threading.active_count())\n"
    outcomes = await asyncio.gather(*(call(sandbox, count) for _ in range(sandbox.workers)))
    assert [o.output for o in outcomes] == ["1"] * sandbox.workers


@on_module_loop
async def test_run_print_captured_and_capped(sandbox: Sandbox) -> None:
    code = "import sys\ndef handle(a, b, c):\n    print('looking up')\n    print('x' * 30000, file=sys.stderr)\n    return 'done'\n"
    outcome = await call(sandbox, code)
    assert (outcome.output, outcome.stdout) == ("done", "looking up\n")
    assert outcome.stderr.startswith("x" * 20_000) and outcome.stderr.endswith("[output cut: 10,001 more characters]")


@on_module_loop
async def test_run_exception_reports_type_message_and_snippet_line(sandbox: Sandbox) -> None:
    code = "def handle(args, agent_id, task_id):\n    city = args['city']\n    raise ValueError(f'no weather for {city}')\n"
    outcome = await call(sandbox, code, {"city": "Atlantis"})
    assert (outcome.failure, outcome.output) == ("exception", "ValueError: no weather for Atlantis")
    assert 'File "<handler>", line 3, in handle' in outcome.stderr
    assert "_worker" not in outcome.stderr  # only the snippet's frames
    await assert_pool_answers(sandbox)


@on_module_loop
async def test_run_syntax_error_reports_line(sandbox: Sandbox) -> None:
    outcome = await call(sandbox, "x = 1\ndef handle(a, b, c)\n    return 1\n")
    assert outcome.failure == "syntax"
    assert "line 2" in outcome.output
    await assert_pool_answers(sandbox)


@on_module_loop
async def test_run_without_handle_is_no_handle(sandbox: Sandbox) -> None:
    outcome = await call(sandbox, "def answer(a, b, c):\n    return 1\n")
    assert outcome.failure == "no_handle" and "no `handle` function" in outcome.output
    await assert_pool_answers(sandbox)


@on_module_loop
async def test_run_infinite_loop_times_out_while_event_loop_ticks(sandbox: Sandbox) -> None:
    gaps: list[float] = []

    async def tick() -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.05)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    ticker = asyncio.create_task(tick())
    started = time.perf_counter()
    outcome = await call(sandbox, INFINITE)
    elapsed = time.perf_counter() - started
    ticker.cancel()
    assert (outcome.failure, outcome.output) == ("timeout", "the handler timed out after 1 s: its worker was stopped")
    assert elapsed >= 1.0  # it waited out the 1 s timeout
    assert len(gaps) >= 5  # and the event loop kept turning meanwhile: a loop the call blocked ticks once at most
    await assert_pool_answers(sandbox)


@on_module_loop
async def test_run_infinite_loop_default_timeout_ends_within_6_s() -> None:
    pool = Sandbox(workers=1)
    await pool.start()
    try:
        started = time.perf_counter()
        outcome = await call(pool, INFINITE)
        elapsed = time.perf_counter() - started
    finally:
        await pool.aclose()
    assert outcome.is_error and "timed out after 5 s" in outcome.output
    assert elapsed < 6.0


@on_module_loop
@pytest.mark.parametrize(
    "body",
    ["x = 'a' * 10**10", "x = [0] * 10**10", "x = []\n    while True:\n        x.append(bytearray(10**6))"],
    ids=["str", "list", "growing"],
)
async def test_run_memory_bomb_is_memory(sandbox: Sandbox, body: str) -> None:
    outcome = await call(sandbox, f"def handle(a, b, c):\n    {body}\n")
    assert (outcome.failure, outcome.output) == ("memory", "MemoryError: the handler exceeded its 256 MB memory limit")
    await assert_pool_answers(sandbox)


@on_module_loop
async def test_run_allocation_under_memory_cap_succeeds(sandbox: Sandbox) -> None:
    outcome = await call(sandbox, "def handle(a, b, c):\n    return len(bytearray(150 * 2**20))\n")
    assert outcome.output == str(150 * 2**20)


@on_module_loop
async def test_run_os_exit_is_crashed(sandbox: Sandbox) -> None:
    outcome = await call(sandbox, "import os\ndef handle(a, b, c):\n    os._exit(1)\n")
    assert outcome.failure == "crashed" and "worker process exited (exit code 1)" in outcome.output
    await assert_pool_answers(sandbox)


@on_module_loop
async def test_run_segfault_is_crashed(sandbox: Sandbox) -> None:
    outcome = await call(sandbox, "import ctypes\ndef handle(a, b, c):\n    ctypes.string_at(0)\n")
    assert outcome.failure == "crashed" and "(signal SIGSEGV)" in outcome.output
    await assert_pool_answers(sandbox)


@on_module_loop
async def test_run_sys_exit_is_exception(sandbox: Sandbox) -> None:
    outcome = await call(sandbox, "import sys\ndef handle(a, b, c):\n    sys.exit(3)\n")
    assert (outcome.failure, outcome.output) == ("exception", "SystemExit: 3")
    await assert_pool_answers(sandbox)


@on_module_loop
@pytest.mark.parametrize("value", ["object()", "float('nan')", "{1, 2}"])
async def test_run_unencodable_return_is_bad_return(sandbox: Sandbox, value: str) -> None:
    outcome = await call(sandbox, f"def handle(a, b, c):\n    return {value}\n")
    assert outcome.failure == "bad_return" and "not JSON-encodable" in outcome.output
    await assert_pool_answers(sandbox)


@on_module_loop
async def test_run_namespace_fresh_per_call(sandbox: Sandbox) -> None:
    code = "calls = globals().get('calls', 0) + 1\ndef handle(a, b, c):\n    return str(calls)\n"
    outcomes = [await call(sandbox, code) for _ in range(4)]  # at least two land on the same worker
    assert [o.output for o in outcomes] == ["1"] * 4


@on_module_loop
async def test_run_calls_beyond_pool_size_wait_and_all_answer(sandbox: Sandbox) -> None:
    code = "import asyncio\nasync def handle(args, agent_id, task_id):\n    await asyncio.sleep(0.2)\n    return str(task_id)\n"
    outcomes = await asyncio.gather(*(sandbox.run(code=code, args={}, agent_id="a", task_id=n) for n in range(3)))
    assert [o.output for o in outcomes] == ["0", "1", "2"]


@on_module_loop
async def test_run_two_sleeps_on_two_workers_run_in_parallel(sandbox: Sandbox) -> None:
    code = "import time\ndef handle(a, b, c):\n    time.sleep(0.5)\n    return 'slept'\n"
    await wait_for(lambda: sandbox.idle_workers == 2, within=10.0)  # the workers earlier calls used are replaced
    started = time.perf_counter()
    outcomes = await asyncio.gather(call(sandbox, code), call(sandbox, code))
    assert [o.output for o in outcomes] == ["slept", "slept"]
    assert time.perf_counter() - started < 0.8


@on_module_loop
async def test_run_cancelled_call_leaves_pool_usable(sandbox: Sandbox) -> None:
    running = asyncio.create_task(call(sandbox, INFINITE))
    await asyncio.sleep(0.2)
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    await assert_pool_answers(sandbox)


@on_module_loop
async def test_aclose_twice_is_safe_and_run_after_raises() -> None:
    pool = Sandbox(workers=1)
    await pool.start()
    await pool.aclose()
    await pool.aclose()
    with pytest.raises(RuntimeError, match="not running"):
        await call(pool, GOOD)


def test_check_snippet_valid_has_no_problems() -> None:
    assert check_snippet("async def handle(args, agent_id, task_id):\n    return 'x'\n") == []


def test_check_snippet_syntax_error_gives_line_and_column() -> None:
    assert check_snippet("x = 1\nx = (\n") == [
        SnippetProblem(line=2, column=5, message="SyntaxError: '(' was never closed")
    ]


def test_check_snippet_nested_handle_is_no_handle() -> None:
    problems = check_snippet("class Tools:\n    def handle(self, a, b, c):\n        return 1\n")
    assert [p.message.split(":")[0] for p in problems] == ["no `handle` function"]


@on_module_loop
async def test_run_common_stdlib_imports_work(sandbox: Sandbox) -> None:
    code = (
        "import statistics, urllib.request\n"
        "from datetime import datetime\n"
        "def handle(a, b, c):\n"
        "    return [statistics.mean([1, 2, 3]), datetime.strptime('2025-01-02', '%Y-%m-%d').day]\n"
    )
    assert (await call(sandbox, code)).output == "[2, 2]"


@on_module_loop
async def test_run_worker_loads_no_console_modules(sandbox: Sandbox) -> None:
    code = "import sys\ndef handle(a, b, c):\n    return sorted(m for m in sys.modules if m.split('.')[0] in {'app', 'nicegui', 'sqlmodel', 'httpx'})\n"
    assert (await call(sandbox, code)).output == "[]"
