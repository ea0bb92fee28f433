"""The rules worker: evaluates rules handlers (matchers, regexes, templates) in a process the console can stop.

Started by ``app.handlers.rules_pool`` through ``WorkerProcess.spawn(module=...)`` as ``FD MEMORY_MB``.
Start-up: import the evaluator, Jinja2, Faker and ``regex`` and use each once, cap memory (RLIMIT_AS =
the address space in use now + MEMORY_MB, no core dumps), then say ``{"ready": true}``.

Frames are ``_worker.py``'s (a 4-byte big-endian length, then a JSON object). Request:
``{"spec": RulesJson, "args", "args_problem", "agent_id", "task_id", "round", "results", "now": ISO 8601, "seed"}``,
and for a spec with sequences or state (``app.handlers.rules_steps``) ``"phase"``: ``"choose"`` (with ``"state"``:
which rule answers) or ``"render"`` (with ``"response"``, ``"label"``, ``"call_count"``, ``"state"``: its answer).
Reply: ``{"output", "is_error", "note", "unmatched", "nearest", "failure", "recycle"}``, and for ``choose``
``"chosen"`` (a rule's index, or None for the default) and ``"final"`` (true: no rule answers, the reply's answer
is the call's). ``unmatched`` is true when no rule gives the answer (the default does, or the error without one),
``nearest`` then the nearest rule (``Answer.nearest``'s shape) or None; ``failure`` is None or ``"memory"`` (the
evaluation hit MEMORY_MB; the pool then replaces this worker, as ``recycle`` asks).
"""

from __future__ import annotations

import contextlib
import gc
import os
import socket
import sys
from datetime import datetime
from typing import Any

from app.handlers._worker import _limit_memory, _receive, _send
from app.handlers.rules import search_regex
from app.handlers.rules_core import Nearness, Verdict, choose_rule, evaluate_rules, nearest_rule, respond
from app.handlers.templates import TemplateContext, prepare_faker, render


def main() -> None:
    fd, memory_mb = (int(a) for a in sys.argv[1:3])
    sock = socket.socket(fileno=fd)
    _warm_up()
    _limit_memory(memory_mb)
    _send(sock, {"ready": True, "pid": os.getpid()})
    prepare_faker()
    while (request := _receive(sock)) is not None:
        _send(sock, evaluate(request))
        with contextlib.suppress(MemoryError):  # a worker out of memory is replaced after its reply anyway
            prepare_faker()  # between calls, not during one


def evaluate(request: dict[str, Any]) -> dict[str, Any]:
    """One call's answer (the reply frame's object) from a request frame's object."""
    try:
        return _evaluate(request)
    except MemoryError:
        pass  # answered below, once the traceback (and the frames holding the big values) is gone
    gc.collect()
    return {
        "output": "",
        "is_error": True,
        "note": "",
        "unmatched": False,
        "nearest": None,
        "failure": "memory",
        "recycle": True,
    }


def _evaluate(request: dict[str, Any]) -> dict[str, Any]:
    ctx = TemplateContext(
        args=request["args"],
        agent_id=request["agent_id"],
        task_id=request["task_id"],
        round=request["round"],
        results=request["results"],
        now=datetime.fromisoformat(request["now"]),
        seed=request["seed"],
        call_count=request.get("call_count", 0),
        state=request.get("state"),
    )
    phase = request.get("phase")
    if phase == "choose":
        unparsed = request.get("args_problem")
        chosen = choose_rule(request["spec"], ctx.args, search=search_regex, unparsed=unparsed, state=ctx.state)
        if isinstance(chosen, Verdict):
            return {**_reply(chosen, request), "chosen": None, "final": True}
        reply = _reply(Verdict("", False, ""))
        if chosen is None:  # the default answers: no rule did
            reply |= {"unmatched": True, "nearest": _nearest(request)}
        return {**reply, "chosen": chosen, "final": False}
    if phase == "render":
        return _reply(respond(request["response"], lambda template: render(template, ctx), request["label"]))
    verdict = evaluate_rules(
        request["spec"],
        ctx.args,
        render=lambda template: render(template, ctx),
        search=search_regex,
        unparsed=request.get("args_problem"),
    )
    return _reply(verdict, request)


def _reply(verdict: Verdict, request: dict[str, Any] | None = None) -> dict[str, Any]:
    """The reply for ``verdict``; with ``request``, whether no rule gave it and the nearest rule then."""
    unmatched = request is not None and verdict.note in UNMATCHED_NOTES
    return {
        "output": verdict.output,
        "is_error": verdict.is_error,
        "note": verdict.note,
        "unmatched": unmatched,
        "nearest": _nearest(request) if unmatched and request is not None else None,
        "failure": None,
        "recycle": False,
    }


def _nearest(request: dict[str, Any]) -> dict[str, Any] | None:
    """The nearest rule to the request's arguments (None when they did not parse, or no rule is on)."""
    if request.get("args_problem") is not None:
        return None
    near = nearest_rule(request["spec"], request["args"], search=search_regex)
    return None if near is None else nearness_json(near)


UNMATCHED_NOTES = frozenset({"default", "no rule matched", "arguments did not parse"})
"""The notes ``evaluate_rules`` gives an answer no rule gave: the default's, or its error without a default."""


def nearness_json(near: Nearness) -> dict[str, Any]:
    """``Nearness`` as the JSON object ``Answer.nearest`` describes."""
    checks = [{"matcher_index": c.matcher_index, "matched": c.matched, "text": c.text} for c in near.checks]
    return {
        "rule_index": near.rule_index,
        "label": near.label,
        "matched": near.matched,
        "total": near.total,
        "checks": checks,
        "text": near.text,
    }


def _warm_up() -> None:
    """Load what a first call would (Faker's providers, Jinja2's compiler, ``regex``) before the memory cap."""
    spec = {
        "rules": [{"name": "", "when": [{"kind": "regex", "path": "a", "value": "^x+$"}], "response": {
            "output": {"v": "{{ fake.name() }} {{ args.a | tojson }}"}, "is_error": False}}],
        "default": None,
    }  # fmt: skip
    _evaluate(
        {"spec": spec, "args": {"a": "xx"}, "agent_id": "", "task_id": 0, "round": 1, "results": {},
         "now": "2026-01-01T00:00:00+00:00", "seed": 0}
    )  # fmt: skip


if __name__ == "__main__":
    main()
