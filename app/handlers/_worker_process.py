"""The console's side of one sandbox worker: start the process, exchange frames, stop it.

A worker is ``_worker.py FD MEMORY_MB UID`` started with ``subprocess.Popen`` (fork+exec, so a clean
environment is set before the interpreter starts), in its own session, talking over one end of a
``socket.socketpair`` passed as FD. Confined, the process started is bubblewrap
(``_confine.bwrap_command``), which keeps FD open for the worker inside; unconfined, it is
``python -I _worker.py`` in a temporary folder of its own (``_confine.make_dir``). Frames are
length-prefixed JSON (never pickle: the console must not unpickle bytes a snippet could forge).
``spawn(module=...)`` starts one of the console's own worker modules the same way, unconfined (the rules
workers of ``app.handlers.rules_pool``); ``exchange`` trades raw frames with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

from app.handlers._confine import NOBODY, bwrap_command, exit_code_signal, make_dir
from app.pools import in_handlers

T = TypeVar("T")

WORKER_SCRIPT = Path(__file__).with_name("_worker.py")
PROJECT_DIR = Path(__file__).resolve().parents[2]  # holds the ``app`` package
KEPT_ENV = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ")
FAILURES = frozenset({"syntax", "no_handle", "invalid_args", "exception", "timeout", "memory", "crashed", "bad_return"})
MAX_FRAME = 16 * 1024 * 1024  # bytes
READY_TIMEOUT = 30.0  # seconds a fresh worker may take to import pydantic and say ready
_HEADER = struct.Struct(">I")


class WorkerTimeout(Exception):
    """The worker did not answer within the timeout."""


class WorkerDied(Exception):
    """The worker process exited, or sent something that is not a reply: ``str(exc)`` says which."""


@dataclass(frozen=True)
class Reply:
    """What the worker said about one call (see ``_worker.py``); texts are valid UTF-8."""

    output: str
    failure: str | None
    stdout: str
    stderr: str
    recycle: bool


class WorkerProcess:
    """One warm worker process, serving one call at a time."""

    def __init__(self, process: subprocess.Popen[bytes], sock: socket.socket, workdir: str | None) -> None:
        self._process = process
        self._sock = sock
        self._workdir = workdir  # None when confined: its /tmp is a tmpfs that ends with it
        self._stopped = False

    @classmethod
    async def spawn(cls, *, memory_mb: int, bwrap: str | None, module: str | None = None) -> WorkerProcess:
        """Start a worker and wait until it is ready (pydantic imported, limits set, privileges dropped).

        ``bwrap`` is bubblewrap's path (confined) or None (unconfined: a host folder, and nobody when root).
        ``module`` names a worker module of the console's own (e.g. ``app.handlers._rules_worker``) to start
        instead of ``_worker.py``: unconfined, with the same environment and folder, run by the console's user,
        with the console's project folder on ``sys.path``; it is given ``FD MEMORY_MB`` and must say ready.
        """
        workdir = None if bwrap else make_dir()
        ours, theirs = socket.socketpair()
        try:
            # fork+exec blocks for a few milliseconds; in a thread, a cancelled spawn could orphan the process
            process = _start_process(theirs.fileno(), memory_mb=memory_mb, bwrap=bwrap, workdir=workdir, module=module)
        except BaseException:
            ours.close()
            if workdir is not None:
                shutil.rmtree(workdir, ignore_errors=True)
            raise
        finally:
            theirs.close()
        ours.setblocking(False)
        worker = cls(process, ours, workdir)
        try:
            try:
                async with asyncio.timeout(READY_TIMEOUT):
                    hello = json.loads(await worker._receive())
            except TimeoutError:
                raise WorkerDied(
                    f"the worker was not ready after {READY_TIMEOUT:g} s: is the machine overloaded?"
                ) from None
            except ValueError:
                hello = "something that is not JSON"
            if not (isinstance(hello, dict) and hello.get("ready") is True):
                raise WorkerDied(f"the worker started but said {hello!r} instead of ready")
        except BaseException:
            worker.kill()
            worker._reap()
            worker._cleanup()
            raise
        return worker

    @property
    def alive(self) -> bool:
        """Whether the process is still running (checked without reaping it, see ``kill``)."""
        if self._stopped or self._process.returncode is not None:
            return False
        return os.waitid(os.P_PID, self._process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None

    async def call(self, body: bytes, *, call_id: str, limit: float) -> Reply:
        """Send one request (``encode_request`` with ``call_id``) and wait at most ``limit`` seconds for its reply.

        A snippet can write frames to the worker's socket itself: frames that do not carry this call's id are
        skipped (a forged frame cannot know the id of a later call), and the worker is then replaced.
        Raises WorkerTimeout, or WorkerDied (the process exited or the reply was unreadable).
        """
        skipped = False

        async def own_reply() -> Reply:
            nonlocal skipped
            while (reply := _parse_reply(await self._receive(), call_id=call_id)) is None:
                skipped = True
            return reply

        reply = await self._round_trip(body, limit=limit, receive=own_reply)
        return replace(reply, recycle=True) if skipped else reply

    async def exchange(self, body: bytes, *, limit: float) -> bytes:
        """Send one request frame's body and wait at most ``limit`` seconds for the reply frame's body.

        Raises WorkerTimeout, or WorkerDied (the process exited, or its frame was over ``MAX_FRAME``).
        """
        return await self._round_trip(body, limit=limit, receive=self._receive)

    async def _round_trip(self, body: bytes, *, limit: float, receive: Callable[[], Awaitable[T]]) -> T:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(limit):
                await loop.sock_sendall(self._sock, _HEADER.pack(len(body)) + body)
                return await receive()
        except TimeoutError:
            raise WorkerTimeout from None
        except OSError:
            raise WorkerDied(await self._exit_status()) from None

    def kill(self) -> None:
        """SIGKILL the worker's process group (the worker and any children it did not move out).

        Every path kills before it reaps: once reaped, the group id could name someone else's group.
        """
        if self._process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._process.pid, signal.SIGKILL)

    async def stop(self) -> None:
        """Kill the worker, reap it and remove its working directory; safe to call twice."""
        if self._stopped:
            return
        self._stopped = True
        self.kill()
        try:
            await in_handlers(self._reap)
        finally:  # also when cancelled (the pool closing): reap here, it takes milliseconds after SIGKILL
            self._reap()
            self._cleanup()

    def _reap(self) -> None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._process.wait(timeout=5)

    def _cleanup(self) -> None:
        self._stopped = True
        self._sock.close()
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)

    async def _receive(self) -> bytes:
        size = _HEADER.unpack(await self._read_exactly(_HEADER.size))[0]
        if size > MAX_FRAME:
            raise WorkerDied(f"the worker sent a {size:,}-byte reply (limit {MAX_FRAME:,})")
        return await self._read_exactly(size)

    async def _read_exactly(self, size: int) -> bytes:
        loop = asyncio.get_running_loop()
        data = bytearray()
        while len(data) < size:
            chunk = await loop.sock_recv(self._sock, min(size - len(data), 1 << 20))
            if not chunk:
                raise WorkerDied(await self._exit_status())
            data += chunk
        return bytes(data)

    async def _exit_status(self) -> str:
        """How the process ended, e.g. "exit code 1" or "signal SIGSEGV"; kills what is left of its group."""
        try:  # the socket closes a moment before the process is gone: wait for that, without reaping
            async with asyncio.timeout(1):
                await in_handlers(os.waitid, os.P_PID, self._process.pid, os.WEXITED | os.WNOWAIT)
        except ChildProcessError:
            pass  # already reaped (the pool is closing)
        except TimeoutError:
            self.kill()
            return "closed its connection and was killed"
        self.kill()  # children it left behind; then reap
        try:
            code = self._process.wait(timeout=1)
        except subprocess.TimeoutExpired:
            return "was stopped"
        confined = self._workdir is None  # bwrap reports a signal as exit code 128 + its number
        number = -code if code < 0 else exit_code_signal(code) if confined else None
        if number is not None:
            with contextlib.suppress(ValueError):
                return f"signal {signal.Signals(number).name}"
            return f"signal {number}"
        return f"exit code {code}"


def encode_request(*, call_id: str, code: str, args: dict[str, Any], agent_id: str, task_id: int) -> bytes:
    """The request frame's body (the worker echoes ``call_id`` in its reply); raises TypeError or ValueError when
    ``args`` is not plain JSON."""
    request = {"call": call_id, "code": code, "args": args, "agent_id": agent_id, "task_id": task_id}
    return json.dumps(request, allow_nan=False).encode("ascii")


def _start_process(
    fd: int, *, memory_mb: int, bwrap: str | None, workdir: str | None, module: str | None
) -> subprocess.Popen[bytes]:
    if module is not None:
        assert workdir is not None
        boot = f"import sys, runpy; sys.path.insert(0, {str(PROJECT_DIR)!r}); runpy.run_module({module!r}, run_name='__main__')"
        args = [sys.executable, "-I", "-c", boot, str(fd), str(memory_mb)]
        home = workdir
    elif bwrap is not None:
        args = bwrap_command(bwrap, worker_script=WORKER_SCRIPT, fd=fd, memory_mb=memory_mb)
        home = "/tmp"
    else:
        assert workdir is not None
        uid = NOBODY if os.geteuid() == 0 else -1
        if uid >= 0:
            os.chown(workdir, NOBODY, NOBODY)
        args = [sys.executable, "-I", str(WORKER_SCRIPT), str(fd), str(memory_mb), str(uid)]
        home = workdir
    return subprocess.Popen(
        args,
        pass_fds=(fd,),
        env=clean_env(home=home),
        cwd=workdir or "/",
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def clean_env(*, home: str) -> dict[str, str]:
    """The worker's whole environment: PATH, locale and TZ from ours, HOME and TMPDIR its own directory."""
    env = {name: os.environ[name] for name in KEPT_ENV if name in os.environ}
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    env.setdefault("LANG", "C.UTF-8")
    return env | {"HOME": home, "TMPDIR": home}


def _parse_reply(body: bytes, *, call_id: str) -> Reply | None:
    """Check the reply's shape: the worker runs untrusted code, so its bytes are untrusted too. None for a frame
    that is not the reply to ``call_id`` (one the snippet wrote, or the reply to an earlier call)."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if not (isinstance(data, dict) and data.get("call") == call_id):
        return None
    texts = ("output", "stdout", "stderr")
    if not (
        isinstance(data, dict)
        and all(isinstance(data.get(key), str) for key in texts)
        and (data.get("failure") is None or (isinstance(data["failure"], str) and data["failure"] in FAILURES))
        and isinstance(data.get("recycle"), bool)
    ):
        raise WorkerDied("the worker sent a reply of the wrong shape")
    clean = {key: data[key].encode("utf-8", "replace").decode("utf-8") for key in texts}
    return Reply(**clean, failure=data.get("failure"), recycle=data["recycle"])
