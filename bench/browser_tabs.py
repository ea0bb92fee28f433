"""Browser tabs for the benchmark: a headless Chromium (Debian's, through Playwright) holding tabs on the console's
Inbox, Runs and Overview while ``bench/ingest.py`` loads the webhook.

``Tabs.launch`` starts this file as a process of its own (``python bench/browser_tabs.py URL --tabs N --cpus C``)
so that the sync Playwright API and the browser never share the measuring process; it talks over stdin/stdout:
``launched`` (the browser runs with blank tabs), ``open`` -> ``ready`` (every tab shows the console's frame),
``count`` -> ``{"open": n}``, ``blank`` -> ``blank`` (every tab left the console for ``about:blank``; ``open``
loads the pages again), and the end of stdin closes the browser.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
TAB_PATHS = ("/", "/runs", "/overview")  # Inbox, Runs, Overview, in turn
BROWSER_NICE = 19
"""The browser's scheduling priority (the lowest). It shares the load's CPU with ``wrk``, and the tabs stand for
people's browsers on other machines: a tab's rendering must not take CPU from ``wrk``, whose late requests would
count against the console."""
BROWSER_TMP = "/dev/shm"
"""A folder in memory for the browser's profile and cache. The tabs stand for people's browsers, which run on
their own machines: as their CPU is kept off the servers' (``--cpus``), their disk writes are kept off the disk
that holds the console's database. On one ext4 disk, Chromium's writes joined every fsync of the console's
commits (the journal commits them together, ``data=ordered``): in one pair of runs on a busy machine, with the
profile in ``/tmp`` on that disk ten tabs took 45 % off the acked deliveries a second while the console used two
thirds of its CPU, waiting on fsyncs; with the profile in memory, 17 %."""


@dataclass
class Tabs:
    """A process (this file) holding a headless Chromium with ``count`` blank tabs, launched ahead of time so
    its start-up is not paid for inside a measure; ``open`` loads the console's pages into them."""

    process: subprocess.Popen[str]
    count: int

    @classmethod
    def launch(cls, url: str, count: int, *, cpus: Sequence[int], env: dict[str, str]) -> Tabs:
        """Start the process with ``env``; the browser runs on ``cpus`` (empty: any CPU), except while its tabs
        load, which they do on every CPU this process may use. Its profile and cache go to ``BROWSER_TMP`` when
        that folder exists (``TMPDIR``, where Playwright makes them): see ``BROWSER_TMP``."""
        if Path(BROWSER_TMP).is_dir():
            env = {**env, "TMPDIR": BROWSER_TMP}
        command = [sys.executable, str(Path(__file__).resolve()), url, "--tabs", str(count)]
        command += [
            "--cpus",
            ",".join(map(str, cpus)),
            "--all-cpus",
            ",".join(map(str, sorted(os.sched_getaffinity(0)))),
        ]
        if cpus:
            command = ["taskset", "-c", ",".join(map(str, cpus)), *command]
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        return cls(process=process, count=count)

    def wait_launched(self, *, timeout: float) -> None:
        """Return once the browser runs with its blank tabs; ``RuntimeError`` when not within ``timeout`` s."""
        said = self._readline(time.monotonic() + timeout)
        if said != "launched":
            raise RuntimeError(f"the browser did not start within {timeout:.0f} s (it said {said!r})")

    def open(self, *, timeout: float) -> None:
        """Load Inbox, Runs and Overview into the tabs; return once every tab shows the console's frame.

        Raises ``RuntimeError`` when the tabs did not load within ``timeout`` s."""
        self._say("open")
        said = self._readline(time.monotonic() + timeout)
        if said != "ready":
            raise RuntimeError(
                f"the browser's tabs did not load within {timeout:.0f} s (it said {said!r}; exit {self.process.poll()})"
            )

    def blank(self, *, timeout: float) -> None:
        """Take every tab off the console (``about:blank``), so that ``open`` can load the pages again; the
        console sees each tab's socket close. Raises ``RuntimeError`` when not done within ``timeout`` s."""
        self._say("blank")
        said = self._readline(time.monotonic() + timeout)
        if said != "blank":
            raise RuntimeError(f"the browser's tabs did not leave within {timeout:.0f} s (it said {said!r})")

    def still_open(self) -> int | None:
        """How many tabs are still open (crashed or closed ones are not); None when the browser does not say
        within 30 s."""
        self._say("count")
        said = self._readline(time.monotonic() + 30)
        return int(json.loads(said)["open"]) if said.startswith("{") else None

    def close(self) -> None:
        """Close the browser (end of stdin), kill it if it does not go within 30 s."""
        if self.process.stdin is not None:
            with contextlib.suppress(OSError):
                self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def _say(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def _readline(self, deadline: float) -> str:
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], max(0.0, deadline - time.monotonic()))
        return self.process.stdout.readline().strip() if ready else ""


def hold_tabs(url: str, count: int, *, cpus: Sequence[int], all_cpus: Sequence[int]) -> None:
    """The process: launch the browser with ``count`` blank tabs, say ``launched``; on ``open`` load
    the pages, pin the browser to ``cpus``, say ``ready``; on ``blank`` take every tab to ``about:blank`` and say
    ``blank``; answer ``count`` with ``{"open": n}``; close at the end of stdin.

    The browser starts on ``cpus`` (this process is started under ``taskset``); the tabs load in parallel on
    ``all_cpus`` (faster on a busy machine); once they show the console's frame, every thread of every browser process is
    moved back to ``cpus``. Waiting on stdin it keeps calling into Playwright, so
    the browser's events keep flowing to this process."""
    from playwright.sync_api import sync_playwright

    os.nice(BROWSER_NICE)  # the browser's processes inherit it
    args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
    args += ["--disable-background-timer-throttling", "--disable-renderer-backgrounding"]  # every tab stays live
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
        context = browser.new_context()
        pages = [context.new_page() for _ in range(count)]
        print("launched", flush=True)
        while True:
            if not select.select([sys.stdin], [], [], 0)[0]:
                pages[0].wait_for_timeout(200)  # keeps the browser's events flowing to this process
                continue
            line = sys.stdin.readline().strip()
            if not line:
                break
            if line == "open":
                _open(pages, url, cpus=cpus, all_cpus=all_cpus)
                print("ready", flush=True)
            elif line == "blank":
                for page in pages:
                    page.goto("about:blank", timeout=120_000)
                print("blank", flush=True)
            else:
                alive = sum(1 for page in pages if not page.is_closed())  # no evaluate: a busy tab would block it
                print(json.dumps({"open": alive}), flush=True)
        browser.close()


def _open(pages: Sequence[Any], url: str, *, cpus: Sequence[int], all_cpus: Sequence[int]) -> None:
    """Load Inbox, Runs and Overview into ``pages`` in turn on ``all_cpus``; return once each shows the console's
    frame, with the browser moved back to ``cpus``."""
    if cpus:  # launched on the load's CPUs; the pages load faster on all of them
        _pin_descendants(os.getpid(), all_cpus)
    for index, page in enumerate(pages):
        page.goto(url + TAB_PATHS[index % len(TAB_PATHS)], wait_until="commit", timeout=120_000)
    for page in pages:
        page.get_by_text("Overview").first.wait_for(timeout=120_000)  # the frame's header has rendered
    if cpus:
        _pin_descendants(os.getpid(), cpus)


def _pin_descendants(root: int, cpus: Sequence[int]) -> None:
    """Move every thread of ``root``'s descendant processes (and of ``root``) to ``cpus``."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
    family, grew = {root}, True
    while grew:
        grown = family | {pid for pid, parent in parents.items() if parent in family}
        grew, family = grown != family, grown
    for pid in family:
        for task in Path(f"/proc/{pid}/task").glob("[0-9]*"):
            with contextlib.suppress(OSError):
                os.sched_setaffinity(int(task.name), cpus)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Hold headless Chromium tabs on the console (see Tabs).")
    parser.add_argument("url", help="the console's base URL")
    parser.add_argument("--tabs", type=int, default=10)
    parser.add_argument("--cpus", default="", help="comma-separated CPUs for the browser once its tabs loaded")
    parser.add_argument("--all-cpus", default="", help="comma-separated CPUs the tabs load on")
    args = parser.parse_args(argv)
    cpus = [int(cpu) for cpu in args.cpus.split(",") if cpu]
    all_cpus = [int(cpu) for cpu in args.all_cpus.split(",") if cpu] or sorted(os.sched_getaffinity(0))
    hold_tabs(args.url, args.tabs, cpus=cpus, all_cpus=all_cpus)
    return 0


if __name__ == "__main__":
    sys.exit(main())
