"""``python -m app.simulator --port 8090 --webhook-url URL --secret whsec_…``: the simulator alone."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.errors import SettingsError
from app.simulator.scenario import DEFAULT_SCENARIOS_DIR
from app.simulator.standalone import serve_standalone


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and serve; returns 2 on a bad scenario file or a database file another process uses."""
    parser = argparse.ArgumentParser(prog="python -m app.simulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--webhook-url", required=True, help="where to POST run statuses")
    parser.add_argument("--secret", required=True, help="webhook signing secret, whsec_<base64>")
    parser.add_argument("--api-key", default="sim-local-key", help="expected in Authorization: Bearer")
    parser.add_argument("--scenarios", type=Path, default=DEFAULT_SCENARIOS_DIR, help="directory of *.json scenarios")
    parser.add_argument("--database", type=Path, help="SQLite file to keep runs in across restarts (default: memory)")
    args = parser.parse_args(argv)
    try:
        serve_standalone(
            host=args.host, port=args.port, webhook_url=args.webhook_url, secret=args.secret,
            api_key=args.api_key, scenarios_dir=args.scenarios, database=args.database,
        )  # fmt: skip
    except (ValueError, SettingsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
