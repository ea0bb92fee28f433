"""*Test*: run a handler's settings, saved or not, on sample arguments; nothing is stored or sent.

The one flow behind ``POST /api/handlers/test`` and the handler editor's Test
button. It answers through ``answer_call``, as the responder does, so a test
behaves exactly like a real call.

A rules handler with sequences or state (``app.handlers.rules_steps``) is tested as call ``call_count`` of its
answering rule, in a run whose state is ``state``: the real counts and runs' states are neither read nor changed.
The outcome says which count was used and the state the rule's ``set_state`` would leave.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel

from app.errors import HandlerInvalid, SandboxUnavailable
from app.handlers.rules_stateful import TrialMemory
from app.handlers.rules_steps import StateTooBig, merged_state
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
    call_count: int | None = None
    """The count the answering rule saw as ``call_count`` (``None``: nothing was counted)."""
    state_after: dict[str, Any] | None = None
    """The run's state after the rule's ``set_state`` (``None``: it set nothing)."""


async def run_handler_test(
    *,
    handler: HandlerIn,
    args: dict[str, Any],
    sandbox: Callable[[], Awaitable[Sandbox]],
    task_id: int = 1,
    call_count: int = 1,
    state: dict[str, Any] | None = None,
) -> HandlerTestOutcome:
    """Answer one call of ``handler.tool_name`` with ``args`` as round 1 of ``task_id``, with no earlier results
    (rules with sequences or state: as call ``call_count``, in a run whose state is ``state``; nothing stored).

    ``sandbox`` starts (or returns) the Python sandbox; it is called only for a python handler. Raises
    ``HandlerInvalid`` (422) naming the first problems in the settings (the same check a save makes) or a
    ``state`` past its bounds, and ``SandboxUnavailable`` (503) when the sandbox cannot start a worker. A handler that fails, times out or
    breaks is not an error here: its answer says so, with ``is_error`` set.
    """
    spec, behaviour = validate(handler)
    try:
        merged_state({}, state or {})
    except StateTooBig as exc:
        raise HandlerInvalid(f"the run state to test in: {exc}") from None
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
    trial = TrialMemory(call_count=call_count, start=dict(state or {}))
    done = await answer_call(
        kind=handler.kind, spec=spec, behaviour=behaviour, call=call, sandbox=pool, memory=lambda _call: trial
    )
    return HandlerTestOutcome(
        output=done.answer.output,
        is_error=done.answer.is_error,
        note=done.answer.note,
        duration_ms=done.duration_ms,
        logs=done.logs,
        call_count=trial.used,
        state_after=trial.state_after,
    )


async def _start(sandbox: Callable[[], Awaitable[Sandbox]]) -> Sandbox:
    try:
        return await sandbox()
    except Exception as exc:  # the pool could not start a worker: say so instead of a traceback
        raise SandboxUnavailable(f"the Python sandbox could not start ({exc}): check the console's log") from exc
