"""Checking that a regex compiles, without letting its compilation take the console's memory.

The ``regex`` library expands counted repetitions when it compiles: ``((a{1000}){1000}){1000}`` asks
for gigabytes before a single match. ``check_compiles`` compiles a pattern with a counted repetition
(``{2}``, ``{2,}``, ``{,5}``) in a short-lived process of its own, its address space capped at its
start-up size + ``memory_mb`` and killed after ``timeout`` seconds; any other pattern compiles in a
few microseconds per character, so the caller compiles it itself. Used when a rules handler is saved
or tested (``rules.check_rules``); calls are evaluated in ``app.handlers.rules_pool``'s workers.
"""

from __future__ import annotations

import re
import subprocess
import sys

from app.handlers._worker_process import clean_env
from app.handlers.rules_core import BadPattern, show

_COUNTED = re.compile(r"\{\s*\d|\{\s*,")
_PROBE = """
import resource, sys
import regex
pattern = sys.stdin.read()
with open("/proc/self/status") as status:
    in_use = next(int(line.split()[1]) for line in status if line.startswith("VmSize:")) * 1024
limit = in_use + int(sys.argv[1]) * 1024 * 1024
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
try:
    regex.compile(pattern)
except MemoryError:
    sys.exit(3)
except Exception:
    sys.exit(0)  # a syntax error: the caller's own compile words it
"""


def check_compiles(pattern: str, *, timeout: float, memory_mb: int) -> None:
    """Return when ``pattern`` has no counted repetition or compiles within ``timeout`` seconds and
    ``memory_mb`` megabytes (a syntax error is left for the caller's compile to report).

    Raises ``BadPattern`` naming ``TOOLDESK_TEMPLATE_TIMEOUT`` or ``TOOLDESK_TEMPLATE_MEMORY_MB``.
    """
    if not _COUNTED.search(pattern):
        return
    try:
        done = subprocess.run(
            [sys.executable, "-I", "-c", _PROBE, str(memory_mb)],
            input=pattern.encode("utf-8", "surrogatepass"),
            env=clean_env(home="/"),
            cwd="/",
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=timeout,
            check=False,
            start_new_session=True,
        )
    except subprocess.TimeoutExpired:
        raise BadPattern(
            f"regex {show(pattern)} took over {timeout:g} s to compile (limit TOOLDESK_TEMPLATE_TIMEOUT): "
            "use smaller repetition counts"
        ) from None
    if done.returncode == 3 or done.returncode < 0:  # MemoryError, or killed by a signal
        raise BadPattern(
            f"regex {show(pattern)} needs over {memory_mb} MB to compile (limit TOOLDESK_TEMPLATE_MEMORY_MB): "
            "use smaller repetition counts"
        )
