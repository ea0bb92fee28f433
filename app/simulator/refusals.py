"""What the simulated platform refuses, and how it says so (contract, "HTTP endpoints"): ``SimulatorError``,
reused idempotency keys (their replies are kept in the store, ``app.simulator.storage``), and results that do not
match a round's tool calls."""

from __future__ import annotations

import hashlib
import json

from app.protocol import RunStatus, ToolResponses

__all__ = ["SimulatorError", "check_results_match", "fingerprint_body", "replayed_reply"]


class SimulatorError(Exception):
    """A refused request: ``status`` is the HTTP status, ``code`` the contract's snake_case error code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def body(self) -> dict[str, dict[str, str]]:
        """``{"error": {"code", "message"}}`` (contract, "HTTP endpoints")."""
        return {"error": {"code": self.code, "message": self.message}}


def replayed_reply(key: str, stored: tuple[str, RunStatus] | None, fingerprint: str) -> RunStatus | None:
    """The reply first given for idempotency ``key`` (``stored`` is its ``(fingerprint, reply)``, ``None`` for a new
    key); raises 422 ``idempotency_key_reused`` when the key came with another body (another ``fingerprint``)."""
    if stored is None:
        return None
    stored_fingerprint, reply = stored
    if stored_fingerprint != fingerprint:
        raise SimulatorError(
            422, "idempotency_key_reused",
            f"Idempotency-Key {key!r} was used with another body: use a new key per submission",
        )  # fmt: skip
    return reply


def fingerprint_body(agent_id: str, task_id: int, body: ToolResponses) -> str:
    """A SHA-256 hex digest of the request (agent, task, body as canonical JSON): equal for equal requests."""
    canonical = json.dumps([agent_id, task_id, body.model_dump(mode="json")], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_results_match(round_number: int | None, call_ids: list[str], result_ids: list[str]) -> None:
    """Raise 422 ``tool_call_mismatch`` unless ``result_ids`` answer each of the round's ``call_ids`` once,
    naming the missing, unexpected and repeated ids."""
    repeated = sorted({i for i in result_ids if result_ids.count(i) > 1})
    missing = [i for i in call_ids if i not in result_ids]
    unexpected = [i for i in dict.fromkeys(result_ids) if i not in call_ids]
    problems = [
        f"{label} {', '.join(values)}"
        for label, values in (("missing", missing), ("unexpected", unexpected), ("repeated", repeated))
        if values
    ]
    if problems:
        raise SimulatorError(
            422, "tool_call_mismatch",
            f"round {round_number} results do not match its tool calls: {'; '.join(problems)}",
        )  # fmt: skip
