"""The simulator's own endpoints, not in the contract: faults to make, and what the platform saw.

Under ``/sim`` in the console, at the root of the standalone simulator; they need the same API key.

- ``POST /_control/faults``: ``FaultsIn`` (``app.simulator.faults``), only the fields sent change; answers
  the settings as ``GET`` does.
- ``GET /_control/faults``: ``{"delivery": {...}, "unavailable_tool_responses": N, "unavailable_for_left": s,
  "can_go_down": bool, "counts": {...}}``.
- ``GET /_control/received``: every applied ``send_tool_responses`` as ``[{"task_id", "round", "results"}]``.
- ``GET /_control/stats``: runs started through this process by status, the tool responses applied per round
  (``rounds_applied_twice`` lists any round applied more than once: a receiver's bug), the answers given,
  webhook attempts by outcome and fault, and the fault counts. See ``stats``.
- ``GET /_control/round_trips``: each answered round's round trip, oldest first, as
  ``[{"task_id", "round", "ms"}]`` (``app.simulator.timing``: from the round's first webhook POST to its
  accepted ``send_tool_responses``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from starlette.background import BackgroundTask

from app.simulator.engine import Simulator
from app.simulator.faults import FaultsIn
from app.simulator.refusals import SimulatorError


@dataclass
class Tally:
    """What the API answered since this process started: runs started (agent_id, task_id) and
    ``send_tool_responses`` answers (``"200"`` or ``"<status> <code>"``)."""

    started: list[tuple[str, int]] = field(default_factory=list)
    answers: Counter[str] = field(default_factory=Counter)

    def answered(self, error: SimulatorError | None) -> None:
        self.answers["200" if error is None else f"{error.status} {error.code}"] += 1


def stats(simulator: Simulator, tally: Tally) -> dict[str, Any]:
    """``GET /_control/stats``::

        {"runs_started": 500, "runs": {"completed": 500},
         "rounds_applied": 620, "rounds_applied_twice": [{"task_id": 1001, "round": 1, "times": 2}],
         "tool_responses": {"answered": {"200": 640, "503 unavailable": 9}, "applied": 620, "replayed": 20},
         "webhook_attempts": {"delivered": 3100, "retrying": 40}, "webhook_faults": {"duplicate": 300},
         "faults": {"duplicated": 300, ...}}

    ``applied`` counts ``send_tool_responses`` that moved a run (``simulator.received``); ``replayed`` the
    other 200 answers: repeats with a known ``Idempotency-Key``, answered again without any change.
    """
    per_round = Counter((task_id, body.round) for task_id, body in simulator.received)
    runs = Counter(simulator.get_status(agent_id, task_id).status for agent_id, task_id in tally.started)
    return {
        "runs_started": len(tally.started),
        "runs": dict(runs),
        "rounds_applied": len(per_round),
        "rounds_applied_twice": [
            {"task_id": task_id, "round": number, "times": times}
            for (task_id, number), times in sorted(per_round.items())
            if times > 1
        ],
        "tool_responses": {
            "answered": dict(tally.answers),
            "applied": len(simulator.received),
            "replayed": tally.answers["200"] - len(simulator.received),
        },
        "webhook_attempts": dict(Counter(attempt.outcome for attempt in simulator.attempts)),
        "webhook_faults": dict(Counter(attempt.fault for attempt in simulator.attempts if attempt.fault)),
        "faults": asdict(simulator.faults.counts),
    }


def add_control_routes(router: APIRouter, simulator: Simulator, tally: Tally) -> None:
    """Register the ``/_control`` endpoints (module docstring) on the simulator's ``router``."""

    def faults_now() -> dict[str, Any]:
        return {**simulator.faults.public(), "unavailable_tool_responses": simulator.unavailable_tool_responses}

    @router.post("/_control/faults", include_in_schema=True)
    async def set_faults(body: FaultsIn) -> JSONResponse:
        """Simulator only, not in the contract: faults to make from now on (``app.simulator.faults``).
        ``down_for`` takes effect just after this answer has gone out."""
        down = simulator.faults.update(body)
        go_down = simulator.faults.go_down
        later = BackgroundTask(go_down, down) if down > 0 and go_down is not None else None
        if "unavailable_tool_responses" in body.model_fields_set:
            simulator.unavailable_tool_responses = body.unavailable_tool_responses
        return JSONResponse(faults_now(), background=later)

    @router.get("/_control/faults", include_in_schema=True)
    async def get_faults() -> JSONResponse:
        """Simulator only: the fault settings and how often each fault was made."""
        return JSONResponse(faults_now())

    @router.get("/_control/received", include_in_schema=True)
    async def list_received() -> JSONResponse:
        """Simulator only, not in the contract: every accepted ``send_tool_responses`` as
        ``[{"task_id", "round", "results"}]``, oldest first, so a test can see what the platform got."""
        received = [{"task_id": task_id, **body.model_dump()} for task_id, body in simulator.received]
        return JSONResponse(received)

    @router.get("/_control/round_trips", include_in_schema=True)
    async def list_round_trips() -> JSONResponse:
        """Simulator only: milliseconds from each round's first webhook POST to its accepted tool responses."""
        return JSONResponse([asdict(trip) for trip in simulator.timing.trips])

    @router.get("/_control/stats", include_in_schema=True)
    async def get_stats() -> JSONResponse:
        """Simulator only: runs by status, tool responses applied per round, webhook attempts, fault counts."""
        return JSONResponse(stats(simulator, tally))
