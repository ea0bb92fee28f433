"""The command line: ``python -m app [serve] [--port N]`` or ``python -m app simulate ...``.

``serve`` (the default) runs the console; ``simulate`` runs the platform
simulator alone, for pointing a console (or any backend) at it over HTTP.
A bad setting prints one line naming it and exits with status 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app", description="Tooldesk: answer an agent's tool calls.")
    commands = parser.add_subparsers(dest="command")
    serve = commands.add_parser("serve", help="run the console (the default)")
    serve.add_argument("--port", type=int, help="port to listen on (TOOLDESK_PORT)")
    serve.add_argument("--host", help="address to listen on (TOOLDESK_HOST)")
    simulate = commands.add_parser("simulate", help="run the platform simulator alone")
    simulate.add_argument("--port", type=int, default=8090)
    simulate.add_argument("--host", default="127.0.0.1")
    simulate.add_argument("--webhook-url", required=True, help="where to POST run statuses")
    simulate.add_argument("--secret", required=True, help="whsec_... shared with the receiver")
    simulate.add_argument("--api-key", default="sim-local-key", help="the Bearer key clients must send")
    simulate.add_argument("--scenarios", type=Path, help="folder of scenario *.json (default: fixtures/scenarios)")
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--host", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    from app.errors import SettingsError

    try:
        if args.command == "simulate":
            return _simulate(args)
        for name in ("port", "host"):
            if getattr(args, name, None) is not None:
                os.environ[f"TOOLDESK_{name.upper()}"] = str(getattr(args, name))
        from app.config import get_settings
        from app.main import serve as serve_console

        serve_console(get_settings())
    except SettingsError as exc:
        print(f"tooldesk: {exc}", file=sys.stderr)
        return 2
    return 0


def _simulate(args: argparse.Namespace) -> int:
    from app.config import check_secret
    from app.simulator import DEFAULT_SCENARIOS_DIR, serve_standalone

    try:
        check_secret(args.secret)
    except ValueError as exc:
        print(f"tooldesk simulate: --secret: {exc}", file=sys.stderr)
        return 2
    serve_standalone(
        host=args.host,
        port=args.port,
        webhook_url=args.webhook_url,
        secret=args.secret,
        api_key=args.api_key,
        scenarios_dir=args.scenarios or DEFAULT_SCENARIOS_DIR,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
