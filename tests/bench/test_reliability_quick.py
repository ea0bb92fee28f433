"""``bench/reliability.py --quick``: the chaos figures, scaled down, must show nothing lost or applied twice.

It runs as the README says (a subprocess with the simulator and the console as processes of their own),
and the test reads the table it prints: what a person running the benchmark sees.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_quick_mode_loses_nothing_applies_nothing_twice_and_completes_every_run() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "reliability.py"), "--quick"],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip

    rows = [line for line in done.stdout.splitlines() if line.startswith("| ") and "must hold" not in line]
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr[-3000:]}"
    assert len(rows) == 3, done.stdout
    deliveries, kills, down = rows
    assert "| 0 lost, 0 applied twice;" in deliveries
    assert re.search(r"\| (\d+)/\1 runs completed \(\1 on the console\); 0 rounds applied twice;", kills), kills
    assert re.search(r"\| (\d+) submissions, \1 sent, \1 applied once, 0 twice;", down), down
    assert "all runs completed: True" in down
    assert "does not hold" not in done.stdout
