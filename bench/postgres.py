"""The console on PostgreSQL: the auto round trip and the webhook's ingest, against the goals of issue 10.

Run from the repository root::

    .venv/bin/python bench/postgres.py [--quick]

The issue's figures are for the console as ``make run`` starts it, on a SQLite file (``bench/ingest.py``,
``bench/roundtrip.py``). A deployment that runs several consoles shares one PostgreSQL database (README,
"Deploy"); these rows say what that costs, on the same machine, measured the same way:

- a throwaway cluster of Debian's ``postgresql`` (``tests/postgres.py``'s ``Cluster``) with PostgreSQL's own
  durability: ``fsync``, ``synchronous_commit`` and ``full_page_writes`` on, as a deployment keeps them, so each
  commit waits for its WAL to reach the disk, as the SQLite console's commits do (``synchronous=FULL``). The
  console is pinned as in ``bench/ingest.py``; the database server is not, and takes CPU time wherever it gets it;
- the auto round trip of static and rules handlers (``bench/roundtrip.py``), one console on a database of its own;
- ingest at 32 connections, side by side with the SQLite floor (``bench/baseline_app.py``), and 500 deliveries/s
  for 30 s (``bench/ingest.py``'s ``throughput`` and ``sustained``), another console on another database.

Quick mode (``make bench-quick``) leaves these rows out ("not measured"): the cluster's start and its migrations
alone take about 10 s of its two minutes.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import ingest
import roundtrip
from table import Row, markdown

from tests.postgres import Cluster

NAMES = (
    "auto round trip, static",
    "rules",
    f"ingest throughput, {ingest.CONNECTIONS} connections, console ÷ floor",
    f"{ingest.SUSTAINED_RATE:.0f} deliveries/s for {ingest.FULL.sustained_seconds} s",
)
KINDS = ("static", "rules")


def measure(*, quick: bool) -> list[Row]:
    """The four rows, each named ``PostgreSQL: <the SQLite row's measure>``; a row that could not be measured says
    why (``met=None``)."""
    if quick:
        return [_named(Row(name, "", "", None, "full mode only (make bench): the cluster's start alone takes "
                                                 "about 10 s")) for name in NAMES]  # fmt: skip
    rows: list[Row] = []
    try:
        cluster = Cluster.start(durable=True)
    except Exception as exc:  # no PostgreSQL here: every row says why
        traceback.print_exc()
        return [_named(Row(name, "", "", None, f"the cluster did not start: {_first_line(exc)}")) for name in NAMES]
    try:
        database = cluster.url(cluster.empty_database())
        try:
            rows += roundtrip.measure(quick=False, kinds=KINDS, database_url=database)
        except Exception as exc:
            traceback.print_exc()
            rows += [Row(name, "", "", None, _first_line(exc)) for name in NAMES[:2]]
        database = cluster.url(cluster.empty_database())
        try:
            with ingest.Rig.running(pin=True, keep=False, with_tabs=False, database_url=database) as rig:
                rows.append(ingest.throughput(rig, ingest.FULL)[0])
                rows.append(ingest.sustained(rig, ingest.FULL))
        except Exception as exc:
            traceback.print_exc()
            rows += [Row(name, "", "", None, _first_line(exc)) for name in NAMES[len(rows) :]]
    finally:
        cluster.stop()
    return [_named(row) for row in rows]


def _named(row: Row) -> Row:
    note = "the console on PostgreSQL (fsync and synchronous_commit on), same machine" + (
        f"; {row.note}" if row.note else ""
    )
    return dataclasses.replace(row, measure=f"PostgreSQL: {row.measure}", note=note)


def _first_line(exc: Exception) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="leave the rows out, as make bench-quick does")
    args = parser.parse_args(argv)
    print(markdown(measure(quick=args.quick)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
