"""HTTP load from ``wrk`` (Debian's, ``/usr/bin/wrk``): pre-signed deliveries replayed by ``bench/replay.lua``.

A Python client saturates first on 2 cores and hides the gap between receivers (issue 10), so the load comes from
wrk, a C client, and Python only signs the bodies beforehand:

- ``write_deliveries(path, bodies, secret=...)`` signs each ``Delivery`` per Standard Webhooks (HMAC-SHA256 over
  ``"{webhook-id}.{timestamp}.{raw body}"``, ``v1,<base64>``; contract "Webhook delivery"), timestamped now, one a
  line: ``webhook-id TAB timestamp TAB signature TAB body``. The timestamps must still be inside the receiver's
  5-minute tolerance when sent: write the file just before the run that reads it.
- ``run_wrk(url, path, connections=..., seconds=..., rate=...)`` runs wrk with the Lua script and returns its
  ``Summary`` (the ``BENCH_SUMMARY`` line that ``done()`` prints). ``rate`` paces it: a closed loop on a schedule
  (see the script's header), never more than ``connections`` requests in flight.

Raises ``WrkError`` when wrk is missing, fails, or prints no summary.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

WRK = "/usr/bin/wrk"
SCRIPT = Path(__file__).resolve().parent / "replay.lua"
SUMMARY_PREFIX = "BENCH_SUMMARY "
PLATFORM_TIMEOUT = 10.0  # seconds: the platform retries a delivery not answered within this (contract)


class WrkError(RuntimeError):
    """wrk is not installed, exited with an error, or printed no summary line."""


class SignedBody(Protocol):
    """What a delivery is to the file: its ``webhook-id`` and its raw body (``ingest.Delivery``)."""

    @property
    def webhook_id(self) -> str: ...

    @property
    def body(self) -> bytes: ...


def sign(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256>`` of ``"{webhook_id}.{timestamp}.{body}"`` with the ``whsec_<base64>`` secret."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{webhook_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def write_deliveries(path: Path, deliveries: Iterable[SignedBody], *, secret: str) -> int:
    """Sign every delivery now and write the file the Lua script reads; returns how many lines were written.

    Raises ``ValueError`` for a webhook-id or body holding a tab or a newline (the file's separators)."""
    stamp = int(time.time())
    count = 0
    with path.open("wb") as out:
        for delivery in deliveries:
            if any(c in delivery.webhook_id for c in "\t\n") or b"\n" in delivery.body or b"\t" in delivery.body:
                raise ValueError(f"delivery {delivery.webhook_id!r}: a tab or newline cannot go into the file")
            signature = sign(secret, delivery.webhook_id, stamp, delivery.body)
            out.write(f"{delivery.webhook_id}\t{stamp}\t{signature}\t".encode() + delivery.body + b"\n")
            count += 1
    return count


@dataclass(frozen=True)
class Summary:
    """What one wrk run measured. Latencies are wrk's: from writing a request to its answer, in microseconds,
    answers past ``--timeout`` excluded (they count in ``errors["timeout"]``)."""

    requests: int
    duration_us: int
    errors: dict[str, int]
    latency_us: dict[str, float]
    statuses: dict[int, int]
    non2xx: int
    retry_after: int  # 503 answers that carried Retry-After
    late: int  # paced requests sent after their slot (the schedule was behind)
    exhausted: int  # times a thread ran out of pre-signed deliveries and repeated them
    sent: int  # requests written, answered or not

    @property
    def unanswered(self) -> int:
        """Requests still waiting for their answer when wrk stopped (or that got a socket error)."""
        return max(0, self.sent - self.requests)

    @classmethod
    def parse(cls, output: str) -> Summary:
        """The ``BENCH_SUMMARY {json}`` line of wrk's output; raises ``WrkError`` when there is none."""
        for line in output.splitlines():
            if line.startswith(SUMMARY_PREFIX):
                data: dict[str, Any] = json.loads(line.removeprefix(SUMMARY_PREFIX))
                return cls(
                    requests=int(data["requests"]),
                    duration_us=int(data["duration_us"]),
                    errors={str(k): int(v) for k, v in data["errors"].items()},
                    latency_us={str(k): float(v) for k, v in data["latency_us"].items()},
                    statuses={int(k): int(v) for k, v in data["statuses"].items()},
                    non2xx=int(data["non2xx"]),
                    retry_after=int(data["retry_after"]),
                    late=int(data["late"]),
                    exhausted=int(data["exhausted"]),
                    sent=int(data["sent"]),
                )
        raise WrkError(f"wrk printed no {SUMMARY_PREFIX.strip()} line:\n{output[-2000:]}")

    @property
    def seconds(self) -> float:
        return self.duration_us / 1e6

    @property
    def rate(self) -> float:
        """Answers per second."""
        return self.requests / self.seconds if self.duration_us else 0.0

    def ms(self, name: str) -> float:
        """A latency figure (``"p50"``, ``"p99"``, ``"max"`` ...) in milliseconds."""
        return self.latency_us[name] / 1000

    @property
    def socket_errors(self) -> int:
        """Connect, read, write errors and timeouts (requests that got no answer)."""
        return sum(v for k, v in self.errors.items() if k != "status")

    @property
    def answered_2xx(self) -> int:
        return sum(n for code, n in self.statuses.items() if 200 <= code < 300)

    @property
    def acked_rate(self) -> float:
        """2xx answers per second: deliveries the receiver took (a 503 is answered but not taken)."""
        return self.answered_2xx / self.seconds if self.duration_us else 0.0


def run_wrk(
    url: str,
    deliveries: Path,
    *,
    connections: int,
    seconds: float,
    threads: int = 1,
    rate: float | None = None,
    cpus: Sequence[int] | None = None,
    timeout: float = PLATFORM_TIMEOUT,
) -> Summary:
    """Replay ``deliveries`` against ``url`` for ``seconds`` with ``connections`` open; ``rate``: deliveries per
    second for the whole run (None: as fast as answers come); ``cpus``: pin wrk to these CPUs with ``taskset``.
    A request unanswered after ``timeout`` seconds counts as a timeout (the platform's 10 s by default)."""
    if not Path(WRK).exists() and shutil.which("wrk") is None:
        raise WrkError(f"{WRK} is missing: install Debian's wrk (make /usr/bin/wrk, or apt-get install wrk)")
    threads = max(1, min(threads, connections))
    command = [
        shutil.which("wrk") or WRK,
        *("-t", str(threads), "-c", str(connections), "-d", f"{max(1, round(seconds))}s"),
        *("--timeout", f"{max(1, round(timeout))}s", "-s", str(SCRIPT), url),
    ]
    if cpus:
        command = ["taskset", "-c", ",".join(map(str, cpus)), *command]
    env = dict(os.environ, BENCH_DELIVERIES=str(deliveries), BENCH_THREADS=str(threads))
    env.pop("BENCH_RATE", None)
    if rate:
        env["BENCH_RATE"] = f"{rate:.3f}"
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=seconds + 60, check=False
    )  # fmt: skip
    if done.returncode != 0:
        raise WrkError(f"wrk exited with status {done.returncode}:\n{done.stdout[-1500:]}\n{done.stderr[-1500:]}")
    return Summary.parse(done.stdout)
