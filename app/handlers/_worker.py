"""The sandbox worker: a standalone script that runs handler snippets, one call at a time.

Started by ``app.handlers._worker_process`` as ``_worker.py FD MEMORY_MB UID`` (under bubblewrap, or
``python -I`` when unconfined); it never imports the console's ``app`` package (stdlib and pydantic
only). Start-up order: import and warm up pydantic, cap memory (RLIMIT_AS = the address space in use
now + MEMORY_MB), turn off core dumps, drop to UID/GID when UID >= 0 (a root console's unconfined
worker, or a confined one, which is that uid already inside its user namespace), then say
``{"ready": true}``.

Frames on the socket FD are a 4-byte big-endian length and a UTF-8 JSON object, both ways:
request ``{"call", "code", "args", "agent_id", "task_id"}``; reply ``{"call", "output", "failure", "stdout",
"stderr", "recycle"}`` (``call`` echoed, so the console can tell a reply from a frame a snippet wrote itself) where ``failure`` is None or one of the kinds listed in ``sandbox.py`` and
``recycle`` asks the pool to replace this worker (the snippet left threads or processes running).
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import ctypes
import gc
import importlib
import inspect
import io
import json
import linecache
import os
import resource
import socket
import struct
import sys
import threading
import traceback
import warnings
from typing import Any

import pydantic

FILENAME = "<handler>"
OUTPUT_CAP = 20_000  # characters kept of stdout and of stderr
RESULT_CAP = 1_000_000  # characters a result may have
_HEADER = struct.Struct(">I")
# Standard-library modules a handler commonly needs, and modules they import lazily (like _strptime).
PRELOAD = """
abc argparse array base64 binascii bisect calendar collections collections.abc concurrent.futures contextlib
copy csv dataclasses datetime decimal difflib email.message email.utils enum fnmatch fractions functools glob
gzip hashlib heapq hmac html html.parser http.client http.cookiejar http.cookies inspect io ipaddress itertools
json locale logging math mimetypes numbers operator pathlib pprint queue random re secrets shlex shutil socket
ssl statistics string struct tempfile textwrap threading time timeit traceback typing unicodedata urllib.error
urllib.parse urllib.request uuid warnings weakref xml.etree.ElementTree zipfile zlib zoneinfo _strptime
encodings.idna encodings.latin_1 encodings.cp1252 encodings.utf_16 encodings.utf_32
"""


def main() -> None:
    fd, memory_mb, uid = (int(a) for a in sys.argv[1:4])
    sock = socket.socket(fileno=fd)
    _warm_up()
    _limit_memory(memory_mb)
    if uid >= 0:
        _drop_privileges(uid)
    home = os.getcwd()
    me = os.getpid()
    forked = []
    # A snippet that forks must not leave a second process on the socket: the copy loses it at once, exits
    # when the snippet returns, and the worker is replaced after this call (answers never shift by one).
    ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER: orphans stay ours to see
    os.register_at_fork(after_in_child=lambda: os.close(sock.detach()), after_in_parent=lambda: forked.append(True))
    _send(sock, {"ready": True, "pid": me})
    while (request := _receive(sock)) is not None:
        os.chdir(home)  # a snippet's os.chdir() does not carry over
        call_id = request.get("call")
        reply = run_call(request, memory_mb)
        reply["call"] = call_id
        if os.getpid() != me:
            os._exit(0)  # the forked copy: its answer is not ours to send
        if forked:
            reply["recycle"] = True
            reply["stderr"] += "\n(the handler forked a process: this worker is replaced)"
        _send(sock, reply)


def run_call(request: dict[str, Any], memory_mb: int) -> dict[str, Any]:
    """Run one snippet: compile, exec in a fresh namespace, validate ``Args``, call ``handle``, encode."""
    out, err = _Capture(), _Capture()
    namespace: dict[str, Any] = {"__name__": "__handler__", "__builtins__": builtins}
    out_of_memory = False
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            output, failure = _run(request, namespace, err)
    except MemoryError:
        out_of_memory = True  # handled below, once the traceback (and the frames it holds) is gone
    namespace.clear()
    if out_of_memory:
        gc.collect()
        output, failure = f"MemoryError: the handler exceeded its {memory_mb} MB memory limit", "memory"
    recycle = threading.active_count() > 1 or _has_children()
    return {"output": output, "failure": failure, "stdout": out.text(), "stderr": err.text(), "recycle": recycle}


def _run(request: dict[str, Any], namespace: dict[str, Any], err: _Capture) -> tuple[str, str | None]:
    code: str = request["code"]
    try:
        compiled = compile(code, FILENAME, "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as exc:
        return _describe_syntax_error(exc), "syntax"
    linecache.cache[FILENAME] = (len(code), None, code.splitlines(True), FILENAME)
    try:
        exec(compiled, namespace)
        handle = namespace.get("handle")
        if not callable(handle):
            return (
                "the snippet defines no `handle` function: add "
                "`async def handle(args: dict, agent_id: str, task_id: int) -> str`",
                "no_handle",
            )
        args = request["args"]
        model = namespace.get("Args")
        if isinstance(model, type) and issubclass(model, pydantic.BaseModel):
            try:
                args = model.model_validate(args).model_dump()
            except pydantic.ValidationError as exc:
                return _describe_validation_error(exc), "invalid_args"
        result = handle(args, request["agent_id"], request["task_id"])
        if inspect.isawaitable(result):
            result = asyncio.run(_await(result))
    except MemoryError:
        raise
    except SystemExit as exc:
        err.write("the handler called sys.exit(); return a value or raise an exception instead\n")
        return f"SystemExit: {exc.code}", "exception"
    except BaseException as exc:
        err.write(_snippet_traceback(exc))
        return f"{type(exc).__name__}: {exc}", "exception"
    if isinstance(result, str):
        text = result
    else:
        try:
            text = json.dumps(result, ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError, RecursionError) as exc:
            return (
                f"handle returned a value of type {type(result).__name__} that is not JSON-encodable ({exc}): "
                "return a str, or a dict/list of str, numbers, booleans and None",
                "bad_return",
            )
    if len(text) > RESULT_CAP:
        return f"handle returned {len(text):,} characters (limit {RESULT_CAP:,}): return less", "bad_return"
    return text, None


async def _await(awaitable: Any) -> Any:
    return await awaitable


def _describe_syntax_error(exc: SyntaxError | ValueError) -> str:
    if isinstance(exc, SyntaxError):
        return f"SyntaxError: {exc.msg} (line {exc.lineno}, column {exc.offset})"
    return f"SyntaxError: {exc}"


def _describe_validation_error(exc: pydantic.ValidationError) -> str:
    problems = []
    for error in exc.errors():
        field = ".".join(str(part) for part in error["loc"]) or "(the arguments)"
        problems.append(f"{field}: {error['msg']}")
    return "the arguments do not match Args: " + "; ".join(problems)


def _snippet_traceback(exc: BaseException) -> str:
    """The traceback limited to the snippet's own frames (line numbers are the snippet's)."""
    frames = [frame for frame in traceback.extract_tb(exc.__traceback__) if frame.filename == FILENAME]
    lines = ["Traceback (most recent call last):\n", *traceback.format_list(frames)]
    return "".join(lines + traceback.format_exception_only(type(exc), exc))


class _Capture(io.TextIOBase):
    """A text stream keeping the first ``OUTPUT_CAP`` characters and counting the rest."""

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._kept = 0
        self._dropped = 0

    def writable(self) -> bool:
        return True

    def write(self, s: str) -> int:
        room = OUTPUT_CAP - self._kept
        if room > 0:
            self._parts.append(s[:room])
            self._kept += min(room, len(s))
        self._dropped += max(0, len(s) - max(room, 0))
        return len(s)

    def text(self) -> str:
        text = "".join(self._parts)
        if self._dropped:
            text += f"\n[output cut: {self._dropped:,} more characters]"
        return text


def _warm_up() -> None:
    """Import ``PRELOAD`` and all of pydantic before the memory cap and the privilege drop.

    Snippets then import these without touching the disk: fast, and possible even when the
    dropped-to user cannot read the interpreter's directory (e.g. a pyenv Python under /root).
    """
    for name in PRELOAD.split():
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecated names warn on access
        for name in pydantic.__all__:
            with contextlib.suppress(Exception):
                getattr(pydantic, name)

    class Probe(pydantic.BaseModel):
        name: str
        count: int = 0

    Probe.model_validate({"name": "x"}).model_dump()
    asyncio.run(asyncio.sleep(0))


def _has_children() -> bool:
    """Whether a process the snippet started still runs (or is unreaped). ``subprocess`` and ``os.system`` fork in
    C, past ``os.register_at_fork``; as a child subreaper the worker also inherits what they double-forked."""
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return False
    for task in tasks:
        try:
            with open(f"/proc/self/task/{task}/children") as children:
                if children.read().strip():
                    return True
        except OSError:
            continue
    return False


def _limit_memory(memory_mb: int) -> None:
    with open("/proc/self/status") as status:
        in_use_kb = next(int(line.split()[1]) for line in status if line.startswith("VmSize:"))
    limit = in_use_kb * 1024 + memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _drop_privileges(uid: int) -> None:
    if os.getgroups():  # none inside bubblewrap's user namespace, where setgroups is not allowed
        os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    ctypes.CDLL(None, use_errno=True).prctl(38, 1, 0, 0, 0)  # PR_SET_NO_NEW_PRIVS: setuid programs cannot elevate
    # At most 128 processes and threads for this uid: bounds a fork bomb. The kernel does not apply it when the uid
    # outside is root's, as for a root console's confined worker (the uid inside maps to it).
    resource.setrlimit(resource.RLIMIT_NPROC, (128, 128))


def _receive(sock: socket.socket) -> dict[str, Any] | None:
    header = _read_exactly(sock, _HEADER.size)
    if header is None:
        return None
    body = _read_exactly(sock, _HEADER.unpack(header)[0])
    return None if body is None else json.loads(body)


def _read_exactly(sock: socket.socket, size: int) -> bytes | None:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(min(size - len(chunks), 1 << 20))
        if not chunk:
            return None
        chunks += chunk
    return bytes(chunks)


def _send(sock: socket.socket, message: dict[str, Any]) -> None:
    body = json.dumps(message).encode("ascii")  # ASCII: a lone surrogate in a snippet's text cannot break a frame
    sock.sendall(_HEADER.pack(len(body)) + body)


if __name__ == "__main__":
    main()
