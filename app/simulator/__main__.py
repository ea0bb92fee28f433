"""``python -m app.simulator --port 8090 --webhook-url URL --secret whsec_…``: the simulator alone.

Webhook faults from the start (shares of deliveries, 0..1; see ``app.simulator.faults``)::

    python -m app.simulator --webhook-url URL --secret whsec_… --duplicate 0.3 --reorder 0.2 --drop 0.05

Platform faults are set while it runs: ``POST /_control/faults`` with ``{"down_for": 60}`` (connections
refused for 60 s) or ``{"unavailable_for": 20}`` (``send_tool_responses`` answers 503 for 20 s).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pydantic import ValidationError

from app.errors import SettingsError
from app.simulator.faults import DeliveryFaults
from app.simulator.scenario import DEFAULT_SCENARIOS_DIR
from app.simulator.standalone import DEFAULT_RETRY_SCHEDULE, serve_standalone


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The standalone simulator's options (shared with ``python -m app simulate``)."""
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--webhook-url", required=True, help="where to POST run statuses")
    parser.add_argument("--secret", required=True, help="webhook signing secret, whsec_<base64>")
    parser.add_argument("--api-key", default="sim-local-key", help="expected in Authorization: Bearer")
    parser.add_argument("--scenarios", type=Path, default=DEFAULT_SCENARIOS_DIR, help="directory of *.json scenarios")
    parser.add_argument("--round-ttl", type=float, default=600.0, help="seconds a round stays open (default 600)")
    parser.add_argument("--step-delay", type=float, default=0.05, help="seconds between a run's state changes")
    parser.add_argument(
        "--retry-schedule", type=_seconds_list, default=DEFAULT_RETRY_SCHEDULE,
        help="seconds between webhook retries, comma-separated (default 0.5,1,2,5,10)",
    )  # fmt: skip
    faults = parser.add_argument_group("webhook faults (shares of deliveries, 0..1)")
    faults.add_argument("--duplicate", type=float, default=0.0, help="sent twice with the same webhook-id")
    faults.add_argument("--concurrent-duplicates", type=float, default=0.5, help="of those, both copies at once")
    faults.add_argument("--reorder", type=float, default=0.0, help="held until the task's next one was delivered")
    faults.add_argument("--reorder-hold", type=float, default=2.0, help="seconds a reordered delivery waits at most")
    faults.add_argument("--delay", type=float, default=0.0, help="delayed by --delay-seconds")
    faults.add_argument("--delay-seconds", type=float, default=1.0)
    faults.add_argument("--drop", type=float, default=0.0, help="first attempt lost, then retried")
    faults.add_argument("--seed", type=int, help="random seed for the faults (repeatable runs)")
    parser.add_argument("--database", type=Path, help="SQLite file to keep runs in across restarts (default: memory)")
    parser.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])


def serve_from_arguments(args: argparse.Namespace, prog: str) -> int:
    """Serve with parsed ``args``; returns 2 (after one line on stderr) on a bad option or scenario file."""
    try:
        faults = DeliveryFaults(
            duplicate=args.duplicate, concurrent_duplicates=args.concurrent_duplicates, reorder=args.reorder,
            reorder_hold=args.reorder_hold, delay=args.delay, delay_seconds=args.delay_seconds, drop=args.drop,
            seed=args.seed,
        )  # fmt: skip
    except ValidationError as exc:
        problems = "; ".join(f"--{str(e['loc'][0]).replace('_', '-')}: {e['msg']}" for e in exc.errors())
        print(f"{prog}: {problems}", file=sys.stderr)
        return 2
    try:
        serve_standalone(
            host=args.host, port=args.port, webhook_url=args.webhook_url, secret=args.secret,
            api_key=args.api_key, scenarios_dir=args.scenarios or DEFAULT_SCENARIOS_DIR, round_ttl=args.round_ttl,
            retry_schedule=args.retry_schedule, step_delay=args.step_delay, faults=faults, log_level=args.log_level,
            database=args.database,
        )  # fmt: skip
    except (ValueError, OSError, SettingsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and serve; returns 2 on a bad option, scenario file or taken port."""
    parser = argparse.ArgumentParser(
        prog="python -m app.simulator", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_arguments(parser)
    return serve_from_arguments(parser.parse_args(argv), "python -m app.simulator")


def _seconds_list(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected seconds separated by commas, such as 0.5,1,2; got {text!r}"
        ) from None
    if not all(0 <= value <= 3600 for value in values):
        raise argparse.ArgumentTypeError("expected each retry delay between 0 and 3600 seconds")
    return values


if __name__ == "__main__":
    sys.exit(main())
