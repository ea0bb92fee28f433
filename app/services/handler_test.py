"""*Test*: run a handler's settings, saved or not, on sample arguments; nothing is stored or sent.

The one flow behind ``POST /api/handlers/test`` and the handler editor's Test
button. It answers through ``answer_call``, as the responder does, so a test
behaves exactly like a real call.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel

from app.errors import SandboxUnavailable
from app.handlers.run import CallInput, answer_call
from app.handlers.sandbox import Sandbox
from app.services.handler_store import HandlerIn, validate
from app.states import HandlerKind

TEST_CALL_ID = "call_test"


class HandlerTestOutcome(BaseModel):
    """What the handler answered: ``output`` (text), ``is_error``, a ``note`` on how (e.g. a simulated failure),
    ``duration_ms`` (wall clock, milliseconds, latency included) and the snippet's ``logs`` (print output)."""

    output: str
    is_error: bool
    note: str
    duration_ms: float
    logs: str


async def run_handler_test(
    *,
    handler: HandlerIn,
    args: dict[str, Any],
    sandbox: Callable[[], Awaitable[Sandbox]],
    task_id: int = 1,
) -> HandlerTestOutcome:
    """Answer one call of ``handler.tool_name`` with ``args`` as round 1 of ``task_id``, with no earlier results.

    ``sandbox`` starts (or returns) the Python sandbox; it is called only for a python handler. Raises
    ``HandlerInvalid`` (422) naming the first problems in the settings (the same check a save makes) and
    ``SandboxUnavailable`` (503) when the sandbox cannot start a worker. A handler that fails, times out or
    breaks is not an error here: its answer says so, with ``is_error`` set.
    """
    spec, behaviour = validate(handler)
    pool = await _start(sandbox) if handler.kind == HandlerKind.PYTHON else None
    call = CallInput(
        tool_call_id=TEST_CALL_ID,
        tool_name=handler.tool_name,
        args=args,
        agent_id=handler.agent_id,
        task_id=task_id,
        round=1,
        results={},
    )
    done = await answer_call(kind=handler.kind, spec=spec, behaviour=behaviour, call=call, sandbox=pool)
    return HandlerTestOutcome(
        output=done.answer.output,
        is_error=done.answer.is_error,
        note=done.answer.note,
        duration_ms=done.duration_ms,
        logs=done.logs,
    )


async def _start(sandbox: Callable[[], Awaitable[Sandbox]]) -> Sandbox:
    try:
        return await sandbox()
    except Exception as exc:  # the pool could not start a worker: say so instead of a traceback
        raise SandboxUnavailable(f"the Python sandbox could not start ({exc}): check the console's log") from exc
