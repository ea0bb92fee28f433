"""Confining sandbox workers with bubblewrap: the command line, the start-up probe, stale temporary folders.

A confined worker is ``bwrap [namespaces and mounts] PYTHON -E -s /opt/tooldesk-worker/_worker.py FD MEMORY_MB
65534``. Its file system is a fresh tmpfs holding, read-only: /usr (and /bin, /lib, /lib64, /lib32, /sbin as
the host has them, symlinks kept), the Python installation (``sys.base_prefix``), and /opt/tooldesk-worker with
``_worker.py`` and the packages it imports (``WORKER_PACKAGES``, bound one by one from wherever the console
imports them, so neither the virtualenv's other packages nor the project's folder are visible); a fresh /proc of
its own pid namespace; a minimal /dev (null, zero, full, random, urandom, tty); and two tmpfs it may write, /tmp
(``TMP_MB``, also its HOME, TMPDIR and working directory) and /dev/shm (``SHM_MB``). The script's folder comes
first on ``sys.path`` (``-E -s`` rather than ``-I``, which would leave it out).

Options come from bubblewrap's manual (bwrap(1), 0.8): ``--unshare-all`` (user, ipc, pid, net, uts, and cgroup
where the kernel has it) with ``--unshare-user`` made explicit so that ``--disable-userns`` can forbid nested user
namespaces; no ``--share-net``, so the only interface is a loopback nobody else is on; ``--die-with-parent``;
``--new-session``; ``--uid/--gid 65534``.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import os
import shutil
import stat
import sys
import sysconfig
import tempfile
from pathlib import Path

log = logging.getLogger("tooldesk")
NOBODY = 65534  # uid and gid a worker runs as: inside the namespaces, or for real when unconfined and root
WORKER_DIR = "/opt/tooldesk-worker"  # where _worker.py and its packages appear inside the sandbox
WORKER_PACKAGES = ("pydantic", "pydantic_core", "typing_extensions", "annotated_types", "typing_inspection")
TMP_MB = 64  # megabytes of the writable /tmp
SHM_MB = 16  # megabytes of the writable /dev/shm
DIR_PREFIX = "tooldesk-sandbox-"  # then the console's pid and a dash: see remove_stale_dirs
PROBE_TIMEOUT = 30.0  # seconds the start-up probe may take
_SYSTEM_DIRS = ("/bin", "/lib", "/lib32", "/lib64", "/sbin")


def bwrap_command(bwrap: str, *, worker_script: Path, fd: int, memory_mb: int) -> list[str]:
    """The argument list starting a confined worker on socket ``fd`` with a ``memory_mb`` cap.

    ``fd`` must be passed to the process (``pass_fds``): bubblewrap leaves inherited descriptors open.
    Raises LookupError if a package in ``WORKER_PACKAGES`` that pydantic needs cannot be found.
    """
    script = f"{WORKER_DIR}/{worker_script.name}"
    return [
        *sandbox_prefix(bwrap),
        *("--ro-bind", str(worker_script.resolve()), script),
        "--",
        *(str(interpreter()), "-E", "-s", script, str(fd), str(memory_mb), str(NOBODY)),
    ]


def sandbox_prefix(bwrap: str) -> list[str]:
    """``bwrap`` and every option before the worker's own script: namespaces, mounts, working directory."""
    args = [bwrap, "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent", "--new-session"]
    args += ["--uid", str(NOBODY), "--gid", str(NOBODY), "--hostname", "sandbox"]
    args += ["--ro-bind", "/usr", "/usr"]
    for folder in _SYSTEM_DIRS:
        if os.path.islink(folder):
            args += ["--symlink", os.readlink(folder), folder]
        elif os.path.isdir(folder):
            args += ["--ro-bind", folder, folder]
    base = Path(sys.base_prefix).resolve()
    if not base.is_relative_to("/usr"):
        args += ["--ro-bind", str(base), str(base)]
    python = interpreter()
    if not python.is_relative_to(base) and not python.is_relative_to("/usr"):
        args += ["--ro-bind", str(python), str(python)]
    for source in _package_sources():
        args += ["--ro-bind", str(source), f"{WORKER_DIR}/{source.name}"]
    args += ["--proc", "/proc", "--dev", "/dev"]
    args += ["--size", str(SHM_MB << 20), "--tmpfs", "/dev/shm", "--size", str(TMP_MB << 20), "--tmpfs", "/tmp"]
    return [*args, "--chdir", "/tmp"]


def interpreter() -> Path:
    """The Python binary workers run: the base installation's (not a virtualenv's link to it)."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    base = Path(sys.base_prefix, "bin", version)
    return base.resolve() if base.exists() else Path(sys.executable).resolve()


def _package_sources() -> list[Path]:
    """The folder (or single-file module) of each installed package in ``WORKER_PACKAGES``."""
    sources = []
    for name in WORKER_PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            if name in {"pydantic", "pydantic_core"}:
                raise LookupError(f"{name} is not installed: the sandbox worker needs it")
            continue  # an optional dependency of this pydantic version
        origin = Path(spec.origin).resolve()
        sources.append(origin.parent if spec.submodule_search_locations else origin)
    return sources


async def probe(bwrap: str) -> str | None:
    """None when ``bwrap`` can start the Python interpreter in a worker's namespaces and mounts; else why not.

    ``bwrap`` is a path or a name looked up on PATH. The answer is one line. Takes some 20 ms; at most
    ``PROBE_TIMEOUT`` seconds.
    """
    found = shutil.which(bwrap)
    if found is None:
        return f"bubblewrap not found at {bwrap!r}"
    try:
        args = [*sandbox_prefix(found), "--", str(interpreter()), "-E", "-s", "-S", "-c", "pass"]
    except LookupError as exc:
        return str(exc)
    process = await asyncio.create_subprocess_exec(
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
    )
    try:
        async with asyncio.timeout(PROBE_TIMEOUT):
            _, stderr = await process.communicate()
    except TimeoutError:
        process.kill()
        await process.wait()
        return f"{found} did not finish a test run within {PROBE_TIMEOUT:g} s"
    except asyncio.CancelledError:  # the console stops while it probes: end the child and close its pipe
        if process.returncode is None:
            process.kill()
        await process.wait()
        raise
    if process.returncode != 0:
        lines = stderr.decode("utf-8", "replace").strip().splitlines() or [f"exit code {process.returncode}"]
        return f"{found} failed a test run: {lines[-1]}"
    return None


def make_dir() -> str:
    """A fresh temporary folder for an unconfined worker, named ``tooldesk-sandbox-<console pid>-<random>``."""
    return tempfile.mkdtemp(prefix=f"{DIR_PREFIX}{os.getpid()}-")


def remove_stale_dirs(parent: str | None = None) -> int:
    """Remove the sandbox folders in ``parent`` (the temporary folder) whose console process is gone.

    A folder's owner is the pid in its name (see ``make_dir``). Returns how many were removed.
    """
    removed = 0
    for folder in Path(parent or tempfile.gettempdir()).glob(f"{DIR_PREFIX}*"):
        owner = folder.name.removeprefix(DIR_PREFIX).split("-", 1)[0]
        if not owner.isdigit() or _running(int(owner)) or not folder.is_dir() or folder.is_symlink():
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed += 1
    return removed


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def exit_code_signal(code: int) -> int | None:
    """The signal that ended a confined worker, from bwrap's exit code (128 + the signal's number), or None."""
    return code - 128 if 128 < code < 128 + 65 else None


def warn_if_interpreter_closed() -> None:
    """Log a warning when unconfined workers drop to nobody, who cannot enter the standard library's folder."""
    if os.geteuid() != 0:
        return
    stdlib = sysconfig.get_paths()["stdlib"]
    if (closed := closed_to_others(stdlib)) is not None:
        log.warning(
            "sandbox workers run as nobody, who cannot enter %s: snippets can import only the preloaded "
            "modules (_worker.PRELOAD, pydantic) and the virtualenv's packages; use a Python installed "
            "outside it for the full standard library",
            closed,
        )


def closed_to_others(path: str) -> Path | None:
    """The first folder on ``path``'s way that others (uid nobody) cannot enter, or None."""
    for folder in reversed(Path(path).resolve().parents):
        if not folder.stat().st_mode & stat.S_IXOTH:
            return folder
    return None
