"""Rules handlers evaluated in a warm pool of worker processes, each call bounded in time and memory.

A rules handler's regexes and templates are written by the console's user and run on a model's arguments.
Jinja2's sandbox stops attribute escapes and ``app.handlers.templates`` refuses the usual oversized
values, but a nested loop, a format width (``"%0300000000d" % 1``), ``fake.pystr(10**8)`` or compiling
``((a{1000}){1000}){1000}`` can still take seconds or gigabytes. Python cannot interrupt a thread, so
``RulesPool.answer`` sends the whole evaluation (``rules_core.evaluate_rules`` with the console's template
renderer and ``regex`` search) to a worker process (``app.handlers._rules_worker``):

- the worker's address space is capped at its start-up size + ``memory_mb`` (``TOOLDESK_TEMPLATE_MEMORY_MB``);
  a call that hits the cap answers an error naming that setting, and the worker is replaced;
- a call that takes longer than ``timeout`` seconds (``TOOLDESK_TEMPLATE_TIMEOUT``, wall clock) has its
  worker killed and replaced, and answers "template render stopped after 2 s (limit TOOLDESK_TEMPLATE_TIMEOUT)";
- a worker that dies answers an error with how it ended, and is replaced.

Workers are not confined like the Python sandbox's (no bubblewrap, the console's user): what runs there is
Jinja2's sandbox and regexes, not arbitrary code. They get the sandbox's clean environment and a temporary
folder of their own. ``rules_pool()`` gives the running console's pool, started on first use.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from app.config import get_settings
from app.handlers._worker_process import WorkerDied, WorkerProcess, WorkerTimeout
from app.handlers.answer import Answer
from app.handlers.rules_core import RulesJson
from app.handlers.templates import TemplateContext
from app.handlers.worker_pool import WorkerPool

WORKER_MODULE = "app.handlers._rules_worker"


class RulesPool:
    """``workers`` warm rules workers; each ``answer`` borrows one for one call (waiting while all are busy).

    ``timeout``: seconds one call may take; ``memory_mb``: megabytes it may allocate on top of the worker's
    start-up footprint. ``await start()`` before the first ``answer``, ``await aclose()`` at the end.
    """

    def __init__(self, *, workers: int = 2, timeout: float = 2.0, memory_mb: int = 256) -> None:
        if workers < 1 or timeout <= 0 or memory_mb < 16:
            raise ValueError(f"workers={workers} timeout={timeout} memory_mb={memory_mb}: need >= 1, > 0 and >= 16")
        self.workers = workers
        self.timeout = timeout
        self.memory_mb = memory_mb
        self._pool = WorkerPool(name="rules pool", spawn=self._spawn)

    async def start(self) -> None:
        """Start the workers and wait until every one is ready (about half a second).

        Raises WorkerDied (one exited or was not ready within 30 s) or OSError (one could not be started).
        """
        await self._pool.start(self.workers)

    async def aclose(self) -> None:
        """Stop every worker (a call in flight answers that its worker exited); safe to call twice."""
        await self._pool.aclose()

    async def answer(self, spec: RulesJson, ctx: TemplateContext) -> Answer:
        """The rules' answer to the call in ``ctx`` (``rules_core.evaluate_rules``). Every failure, the limits
        included, is an ``is_error`` answer saying what happened; raises RuntimeError when the pool is closed."""
        reply = await self._exchange(_request(spec, ctx))
        return reply if isinstance(reply, Answer) else _answer(reply)

    async def choose(self, spec: RulesJson, ctx: TemplateContext) -> int | Answer | DefaultChosen:
        """Which rule answers the call in ``ctx`` with the run's ``ctx.state`` (``rules_core.choose_rule``): its
        index, ``DefaultChosen`` for the default (with the nearest rule, as no rule matched), or the call's final
        answer (no match, a bad pattern, a limit hit)."""
        reply = await self._exchange({**_request(spec, ctx), "phase": "choose", "state": ctx.state or {}})
        if isinstance(reply, Answer):
            return reply
        chosen = reply.get("chosen")
        if reply.get("final") is True:
            return _answer(reply)
        if chosen is None:
            return DefaultChosen(nearest=reply["nearest"])
        if isinstance(chosen, int) and 0 <= chosen < len(spec["rules"]):
            return chosen
        return Answer("the rules worker process answered with no rule to use: try again", True, note="crashed")

    async def render(self, response: Any, label: str, ctx: TemplateContext) -> Answer:
        """``response`` (a ``ResponseJson``) rendered with ``ctx`` (its ``call_count`` and ``state`` too); the note is
        ``label`` unless it failed (``rules_core.respond``)."""
        request = {**_request({"rules": [], "default": None}, ctx), "phase": "render", "response": response}
        reply = await self._exchange({**request, "label": label, "call_count": ctx.call_count, "state": ctx.state})
        return reply if isinstance(reply, Answer) else _answer(reply)

    async def _exchange(self, request: dict[str, Any]) -> dict[str, Any] | Answer:
        """One request to a worker: its reply, or the ``is_error`` answer saying how it failed."""
        try:
            body = json.dumps(request, allow_nan=False).encode("ascii")
        except (TypeError, ValueError) as exc:
            return Answer(f"the arguments are not JSON ({exc}): the platform sends JSON, so check the caller", True)
        worker = await self._pool.acquire()
        keep = False
        try:
            reply = _parse(await worker.exchange(body, limit=self.timeout))
            keep = not reply.pop("recycle")
        except WorkerTimeout:
            return Answer(
                f"template render stopped after {self.timeout:g} s (limit TOOLDESK_TEMPLATE_TIMEOUT): loop less in "
                "the template, or simplify the rule's regexes",
                is_error=True,
                note="timeout",
            )
        except WorkerDied as exc:
            return Answer(
                f"the rules worker process exited ({exc}) while evaluating this call: simplify its templates and "
                f"regexes (they may use {self.memory_mb} MB, TOOLDESK_TEMPLATE_MEMORY_MB)",
                is_error=True,
                note="crashed",
            )
        finally:
            self._pool.release(worker, keep=keep)
        if reply["failure"] == "memory":
            return Answer(
                f"template render ran out of memory (limit TOOLDESK_TEMPLATE_MEMORY_MB, {self.memory_mb} MB): build "
                "smaller values (format widths, repeated strings, fake data sizes)",
                is_error=True,
                note="memory",
            )
        return reply

    async def _spawn(self) -> WorkerProcess:
        return await WorkerProcess.spawn(memory_mb=self.memory_mb, bwrap=None, module=WORKER_MODULE)


@dataclass(frozen=True)
class DefaultChosen:
    """``RulesPool.choose``'s answer when no rule matches and the default answers; ``nearest`` as in ``Answer``."""

    nearest: dict[str, Any] | None


def _request(spec: RulesJson, ctx: TemplateContext) -> dict[str, Any]:
    return {
        "spec": spec,
        "args": ctx.args,
        "args_problem": ctx.args_problem,
        "agent_id": ctx.agent_id,
        "task_id": ctx.task_id,
        "round": ctx.round,
        "results": ctx.results,
        "now": ctx.now.isoformat(),
        "seed": ctx.seed,
    }


def _answer(reply: dict[str, Any]) -> Answer:
    return Answer(
        output=reply["output"],
        is_error=reply["is_error"],
        note=reply["note"],
        unmatched=reply["unmatched"],
        nearest=reply["nearest"],
    )


def _parse(body: bytes) -> dict[str, Any]:
    """Check a reply's shape (``_rules_worker``'s docstring); WorkerDied when it is not one."""
    try:
        data = json.loads(body)
    except ValueError:
        raise WorkerDied("it sent a reply that is not JSON") from None
    if not (
        isinstance(data, dict)
        and all(isinstance(data.get(key), str) for key in ("output", "note"))
        and isinstance(data.get("is_error"), bool)
        and isinstance(data.get("unmatched"), bool)
        and isinstance(data.get("nearest"), dict | None)
        and data.get("failure") in (None, "memory")
        and isinstance(data.get("recycle"), bool)
    ):
        raise WorkerDied("it sent a reply of the wrong shape")
    return data


_pools: dict[asyncio.AbstractEventLoop, RulesPool] = {}
_pools_lock: dict[asyncio.AbstractEventLoop, asyncio.Lock] = {}


async def rules_pool() -> RulesPool:
    """The running loop's pool, started on first use with ``TOOLDESK_TEMPLATE_WORKERS``, ``_TIMEOUT`` and
    ``_MEMORY_MB``; raises what ``RulesPool.start`` raises. ``close_rules_pool`` ends it (the runtime does)."""
    loop = asyncio.get_running_loop()
    async with _pools_lock.setdefault(loop, asyncio.Lock()):
        pool = _pools.get(loop)
        if pool is None:
            settings = get_settings()
            pool = RulesPool(
                workers=settings.template_workers,
                timeout=settings.template_timeout,
                memory_mb=settings.template_memory_mb,
            )
            await pool.start()
            _pools[loop] = pool
        return pool


async def close_rules_pool() -> None:
    """Stop the running loop's pool, if one was started; the next ``rules_pool()`` starts a fresh one."""
    loop = asyncio.get_running_loop()
    _pools_lock.pop(loop, None)
    pool = _pools.pop(loop, None)
    if pool is not None:
        await pool.aclose()
