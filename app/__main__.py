"""The command line: ``python -m app [serve] [--port N]``, ``python -m app simulate ...``, ``export``/``import FILE``,
``user ...`` and ``token ...`` (``app/auth/cli.py``), ``db upgrade|current|revision`` (``app/migrations/cli.py``) or ``settings`` (the table of ``TOOLDESK_*`` variables).

``serve`` (the default) runs the console; ``simulate`` runs the platform
simulator alone, for pointing a console (or any backend) at it over HTTP.
A bad setting prints one line naming it and exits with status 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from app.auth.cli import add_parsers
from app.auth.cli import run as run_user_command
from app.migrations.cli import add_arguments as add_db_arguments
from app.simulator.__main__ import add_arguments as add_simulator_arguments


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app", description="Tooldesk: answer an agent's tool calls.")
    commands = parser.add_subparsers(dest="command")
    serve = commands.add_parser("serve", help="run the console (the default)")
    serve.add_argument("--port", type=int, help="port to listen on (TOOLDESK_PORT)")
    serve.add_argument("--host", help="address to listen on (TOOLDESK_HOST)")
    export = commands.add_parser("export", help="write every agent and handler to a JSON file (or - for stdout)")
    export.add_argument("file")
    load = commands.add_parser("import", help="import a JSON file written by export: all of it, or nothing")
    load.add_argument("file")
    add_parsers(commands)
    add_db_arguments(commands)
    commands.add_parser("settings", help="print the settings (TOOLDESK_* variables) as a Markdown table")
    simulate = commands.add_parser("simulate", help="run the platform simulator alone (faults: README, Simulator)")
    add_simulator_arguments(simulate)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--host", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    from app.errors import SettingsError

    if args.command == "settings":
        from app.config import settings_table

        sys.stdout.write(settings_table())
        return 0
    try:
        if args.command == "simulate":
            return _simulate(args)
        if args.command in {"export", "import"}:
            return _config_file(args)
        if args.command in {"user", "token"}:
            return run_user_command(args)
        if args.command == "db":
            from app.migrations.cli import run as run_db_command

            return run_db_command(args)
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


def _config_file(args: argparse.Namespace) -> int:
    """``export FILE`` / ``import FILE`` on the configured database, without starting the console."""
    from app.config import get_settings
    from app.db import make_engine
    from app.errors import TooldeskError
    from app.services import audit, config_io

    audit.run_as(audit.COMMAND_LINE)
    engine = make_engine(get_settings().database_url)
    try:
        if args.command == "export":
            text = config_io.export_config_json(engine=engine)
            if args.file == "-":
                sys.stdout.write(text)
            else:
                Path(args.file).write_text(text, encoding="utf-8")
                print(f"tooldesk: wrote {args.file}", file=sys.stderr)
            return 0
        raw = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
        report = config_io.import_config(engine=engine, document=raw)
    except OSError as exc:
        print(f"tooldesk {args.command}: {args.file}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except TooldeskError as exc:
        print(f"tooldesk import: {args.file}: {exc.message}", file=sys.stderr)
        return 2
    print(f"tooldesk: imported {args.file}: {report.summary}", file=sys.stderr)
    return 0


def _simulate(args: argparse.Namespace) -> int:
    from app.config import check_secret
    from app.simulator.__main__ import serve_from_arguments

    try:
        check_secret(args.secret)
    except ValueError as exc:
        print(f"tooldesk simulate: --secret: {exc}", file=sys.stderr)
        return 2
    return serve_from_arguments(args, "tooldesk simulate")


if __name__ == "__main__":
    sys.exit(main())
