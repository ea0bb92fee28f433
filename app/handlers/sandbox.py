"""Python snippets that answer tool calls, run in a warm pool of sandboxed worker processes.

A snippet has the SDK's handler shape (contract, "The handler signature")::

    from pydantic import BaseModel

    class Args(BaseModel):          # optional: validates args first; handle then gets Args(...).model_dump()
        city: str

    async def handle(args: dict, agent_id: str, task_id: int) -> str:   # a plain def works too
        print("looking up", args["city"])                                # captured into stdout
        return {"temp_c": 19}       # a str is the result as is; anything else is JSON-encoded

``Sandbox.run`` answers with a ``SnippetOutcome``; ``failure`` names what went wrong:

=============  =================================================================================
syntax         the code does not compile (output gives line and column)
no_handle      no callable ``handle`` after running the module body
invalid_args   ``Args`` rejected the arguments (output lists field: problem)
exception      the module body or ``handle`` raised, or called ``sys.exit()``; output is
               "Type: message", stderr the traceback through the snippet's own lines
timeout        no answer within the timeout; the worker is killed and replaced
memory         the snippet hit its memory cap (MemoryError)
crashed        the worker process died (``os._exit``, a segfault, a kill); it is replaced
bad_return     ``handle`` returned something JSON cannot encode, or more than 1,000,000 characters
disabled       nothing ran: bubblewrap cannot confine workers here and ``TOOLDESK_SANDBOX_UNCONFINED``
               is not set (output says why and what to do)
=============  =================================================================================

Isolation, exactly. Each worker is a separate interpreter (fork+exec, not a fork of the console)
that loads only ``_worker.py``, pydantic and the stdlib modules in ``_worker.PRELOAD``. ``start``
first checks that bubblewrap (``TOOLDESK_SANDBOX_BWRAP``, default ``bwrap`` on PATH) can confine one.
Confined (the default), each worker runs under bubblewrap (``_confine.py`` has the exact options) with:

- its own user, pid, network, mount, ipc, uts and (where the kernel has it) cgroup namespaces, as uid
  and gid 65534 with no capabilities, no_new_privs, and no way to make further user namespaces;
- no network: only a loopback interface of its own, so nothing on the host (the console's port
  included) can be reached, and no name resolution;
- a file system of its own, all read-only except two tmpfs: /usr (and /bin, /lib, /lib64 as the host
  has them), the Python installation, and ``_worker.py`` with pydantic and its dependencies bound
  one by one (not the virtualenv, not the project folder, no /etc, /home, /root, /sys or /run); a
  fresh /proc showing only its own processes; a minimal /dev; /tmp (64 MB; also HOME, TMPDIR and
  the working directory) and /dev/shm (16 MB), both gone with the worker;
- its own process tree: it sees and can signal only its own processes, and every process it starts
  (also with setsid or a double fork) is killed with it (``--die-with-parent``, and the end of its
  pid namespace), also when the console itself is killed with SIGKILL;

and, confined or not:

- an environment of PATH, LANG, LC_ALL, LC_CTYPE, TZ only (so no ``TOOLDESK_*`` secret), with HOME
  and TMPDIR set to its own temporary folder;
- stdin, stdout and stderr on /dev/null (``print`` is captured in Python; writes to fd 1/2 vanish);
- RLIMIT_AS = its start-up address space (about 45 MB) + ``memory_mb``, and no core dumps;
- its own session, so a kill reaches the children it started;
- one call per worker: after every call (answered, failed, timed out or crashed) the worker is
  stopped and a fresh one started in its place, so nothing a snippet changes in its interpreter, its
  /tmp or its processes reaches the next call; the pool keeps ``workers`` warm and starts each one's
  replacement as soon as a call takes it, so a call waits only when calls come faster than workers
  start (about 0.4 s each). ``sys.exit()`` is caught: "exception".

Where bubblewrap is missing or the kernel refuses its namespaces, ``start`` logs one line and Python
handlers are disabled (every run is "disabled") unless ``TOOLDESK_SANDBOX_UNCONFINED=true``; then
workers run unconfined (``python -I``), in a host temporary folder ``tooldesk-sandbox-<console
pid>-*`` (a later ``start`` removes those whose console is gone), and, when the console runs as
root, as nobody for real (supplementary groups dropped, no_new_privs, RLIMIT_NPROC 128). Unconfined,
a snippet can use the network (the console's port included), read any world-readable file, write
where others may (/tmp), signal other processes of its uid, and start processes that outlive it.

What it does not do, confined or not: there is no seccomp filter (no seccomp library is among the
dependencies, and hand-written BPF is not worth its risk), so the whole kernel interface is open to
attack. With a root console, a confined worker's uid outside its namespaces is root's (without
capabilities); the kernel then does not apply RLIMIT_NPROC, so a fork bomb is bounded only by the
timeout, which ends its whole pid namespace (with a non-root console the limit of 128 holds). CPU
time, disk and memory beyond the address-space cap (tmpfs pages, kernel memory) are not limited by a
cgroup. A snippet can import every module of the Python installation; what it changes there ends with its call.
The timeout is wall clock; what the snippet printed before it is lost. Treat confined snippets as
code that may be hostile but not as code that may hold a kernel exploit.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any

from app.config import get_settings
from app.handlers import _confine
from app.handlers._worker_process import (
    Reply,
    WorkerDied,
    WorkerProcess,
    WorkerTimeout,
    encode_request,
)
from app.handlers.snippet_check import SnippetProblem, check_snippet
from app.handlers.worker_pool import WorkerPool
from app.pools import in_handlers

__all__ = ["Sandbox", "SnippetOutcome", "SnippetProblem", "check_snippet"]
log = logging.getLogger("tooldesk")
UNCONFINED_SETTING = "TOOLDESK_SANDBOX_UNCONFINED"


@dataclass(frozen=True)
class SnippetOutcome:
    """The answer to one ``Sandbox.run``.

    ``output`` is the result text, or on failure a message saying what went wrong; ``is_error`` is
    True exactly when ``failure`` is set (one of the kinds in the module docstring); ``stdout`` and
    ``stderr`` are what the snippet printed, each cut to 20,000 characters with a note;
    ``duration_ms`` is wall-clock milliseconds from sending the call to its answer.
    """

    output: str
    is_error: bool
    failure: str | None
    stdout: str
    stderr: str
    duration_ms: float


class Sandbox:
    """A pool of ``workers`` warm worker processes; each ``run`` borrows one for one call.

    ``timeout`` is the default seconds a call may take (wall clock); ``memory_mb`` the megabytes a
    snippet may allocate on top of the worker's own start-up footprint. Use ``await start()``
    before the first ``run`` and ``await aclose()`` at shutdown.
    """

    def __init__(
        self,
        *,
        workers: int = 2,
        timeout: float = 5.0,
        memory_mb: int = 256,
        bwrap: str | None = None,
        unconfined: bool | None = None,
    ) -> None:
        if workers < 1 or timeout <= 0 or memory_mb < 16:
            raise ValueError(f"workers={workers} timeout={timeout} memory_mb={memory_mb}: need >= 1, > 0 and >= 16")
        self.workers = workers
        self.timeout = timeout
        self.memory_mb = memory_mb
        if bwrap is None or unconfined is None:
            settings = get_settings()
            bwrap = settings.sandbox_bwrap if bwrap is None else bwrap
            unconfined = settings.sandbox_unconfined if unconfined is None else unconfined
        self.bwrap = bwrap
        self.unconfined = unconfined
        self.confined: bool | None = None  # known after start()
        self.disabled: str | None = None  # after start(): why runs are refused, when they are
        self._pool = WorkerPool(name="sandbox", spawn=self._spawn, single_use=True)
        self._started = False

    async def start(self) -> None:
        """Start the workers and wait until every one is ready (about 0.3 s).

        First removes temporary folders that consoles no longer running left behind, then checks that
        ``bwrap`` can confine a worker. If it cannot, logs one line saying why and either starts unconfined
        workers (``unconfined``) or none: every ``run`` is then a "disabled" outcome naming the setting.
        Raises WorkerDied (it exited or was not ready within 30 s) or OSError (it could not be started).
        """
        if self._started:
            raise RuntimeError("the sandbox is already started")
        self._started = True
        await in_handlers(_confine.remove_stale_dirs)
        refused = await _confine.probe(self.bwrap)
        self.confined = refused is None
        if refused is not None and not self.unconfined:
            self.disabled = (
                f"Python handlers are disabled: their sandbox cannot be confined ({refused}); install bubblewrap "
                f"(`make run` does) or set {UNCONFINED_SETTING}=true to run them with process-level containment only"
            )
            log.error("%s", self.disabled)
            return
        if refused is not None:
            log.warning(
                "Python handlers run unconfined, with process-level containment only (%s=true): %s",
                UNCONFINED_SETTING,
                refused,
            )
            _confine.warn_if_interpreter_closed()
        await self._pool.start(self.workers)

    async def aclose(self) -> None:
        """Stop every worker (a call in flight ends as "crashed"); safe to call twice."""
        await self._pool.aclose()

    async def run(
        self,
        *,
        code: str,
        args: dict[str, Any],
        agent_id: str,
        task_id: int,
        timeout: float | None = None,  # noqa: ASYNC109 - the snippet's limit, enforced by killing its worker
    ) -> SnippetOutcome:
        """Run ``code``'s ``handle(args, agent_id, task_id)`` in a free worker (waiting for one if all are busy).

        ``args`` is a JSON object; ``timeout`` (seconds) overrides the pool's. Every failure of the
        snippet is an outcome, never an exception; raises RuntimeError if the sandbox is not running.
        """
        limit = self.timeout if timeout is None else timeout
        started = time.perf_counter()
        if self.disabled is not None:
            return _outcome(_failed("disabled", self.disabled), started)
        try:
            call_id = secrets.token_hex(16)
            body = encode_request(call_id=call_id, code=code, args=args, agent_id=agent_id, task_id=task_id)
        except (TypeError, ValueError) as exc:
            message = f"the arguments are not a JSON object ({exc}): the platform sends JSON, so check the caller"
            return _outcome(_failed("invalid_args", message), started)
        if not self._started:
            raise RuntimeError("the sandbox is not running: await start() first")
        worker = await self._pool.acquire()
        started = time.perf_counter()
        try:
            reply = await worker.call(body, call_id=call_id, limit=limit)
        except WorkerTimeout:
            reply = _failed("timeout", f"the handler timed out after {limit:g} s: its worker was stopped")
        except WorkerDied as exc:
            reply = _failed("crashed", f"the handler's worker process exited ({exc}): the pool starts a fresh one")
        finally:
            # One call per worker: a snippet can rewrite anything in its interpreter (the worker's own functions
            # included), so a reused worker would let it read and answer the next handler's calls.
            self._pool.release(worker, keep=False)
        return _outcome(reply, started)

    @property
    def idle_workers(self) -> int:
        """Warm workers waiting for a call now (each call uses a fresh one; its replacement starts meanwhile)."""
        return self._pool.idle_workers

    async def _spawn(self) -> WorkerProcess:
        return await WorkerProcess.spawn(memory_mb=self.memory_mb, bwrap=None if not self.confined else self.bwrap)


def _outcome(reply: Reply, started: float) -> SnippetOutcome:
    return SnippetOutcome(
        output=reply.output,
        is_error=reply.failure is not None,
        failure=reply.failure,
        stdout=reply.stdout,
        stderr=reply.stderr,
        duration_ms=(time.perf_counter() - started) * 1000,
    )


def _failed(failure: str, output: str) -> Reply:
    return Reply(output=output, failure=failure, stdout="", stderr="", recycle=True)
