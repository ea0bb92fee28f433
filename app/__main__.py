"""The command line, installed as ``tooldesk`` (``[project.scripts]``) and also run as ``python -m app``.

Commands (``tooldesk --help`` lists them, ``tooldesk COMMAND --help`` gives each one's options):

- ``serve [--port N] [--host H]``: run the console (the default: ``python -m app`` alone serves, as ``make run`` does);
- ``desktop [--port N]``: the console in a window of its own, signed in (``app.desktop``; also ``python -m app
  --native``);
- ``simulate ...``: the platform simulator alone, for pointing a console (or any backend) at it over HTTP;
- ``export FILE`` / ``import FILE``: every agent and handler to or from a JSON file;
- ``user ...`` and ``token ...``: users and API tokens (``app.auth.cli``);
- ``db upgrade|current|revision``: schema migrations (``app.migrations.cli``);
- ``settings``: the table of ``TOOLDESK_*`` variables.

Each command is one ``_add_*`` function that makes its parser and names the function that runs it
(``set_defaults(run=...)``); a new command is one more function in ``COMMANDS``. A bad argument or setting prints one
line and exits with status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, cast

from app.auth.cli import add_parsers as add_user_parsers
from app.auth.cli import run as run_user_command
from app.migrations.cli import add_arguments as add_db_arguments
from app.simulator.__main__ import add_arguments as add_simulator_arguments

if TYPE_CHECKING:
    Commands = argparse._SubParsersAction[argparse.ArgumentParser]

PROG = "tooldesk"


class Parser(argparse.ArgumentParser):
    """``argparse`` with a bad argument told in one line (and where to look), exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _add_serve(commands: Commands) -> None:
    serve = commands.add_parser("serve", help="run the console (the default)")
    serve.add_argument("--port", type=int, help="port to listen on (TOOLDESK_PORT)")
    serve.add_argument("--host", help="address to listen on (TOOLDESK_HOST)")
    serve.set_defaults(run=_serve)


def _add_desktop(commands: Commands) -> None:
    desktop = commands.add_parser("desktop", help="open the console in a window of its own, signed in")
    desktop.add_argument("--port", type=int, help="port on 127.0.0.1 (default: TOOLDESK_PORT, else a free one)")
    desktop.set_defaults(run=_desktop)


def _add_simulate(commands: Commands) -> None:
    simulate = commands.add_parser("simulate", help="run the platform simulator alone (faults: README, Simulator)")
    add_simulator_arguments(simulate)
    simulate.set_defaults(run=_simulate)


def _add_export(commands: Commands) -> None:
    export = commands.add_parser("export", help="write every agent and handler to a JSON file (or - for stdout)")
    export.add_argument("file")
    export.set_defaults(run=_config_file)


def _add_import(commands: Commands) -> None:
    load = commands.add_parser("import", help="import a JSON file written by export: all of it, or nothing")
    load.add_argument("file")
    load.set_defaults(run=_config_file)


def _add_users(commands: Commands) -> None:
    add_user_parsers(commands)  # ``user`` and ``token``
    for name in ("user", "token"):
        commands.choices[name].set_defaults(run=run_user_command)


def _add_db(commands: Commands) -> None:
    add_db_arguments(commands)
    commands.choices["db"].set_defaults(run=_db)


def _add_settings(commands: Commands) -> None:
    commands.add_parser("settings", help="print the settings (TOOLDESK_* variables) as a Markdown table").set_defaults(
        run=_settings
    )


COMMANDS: list[Callable[[Commands], None]] = [
    _add_serve,
    _add_desktop,
    _add_simulate,
    _add_export,
    _add_import,
    _add_users,
    _add_db,
    _add_settings,
]
"""The commands, in the order ``--help`` lists them."""


def build_parser() -> Parser:
    """The ``tooldesk`` parser: every command of ``COMMANDS``; with none, ``serve`` (or ``desktop`` with
    ``--native``)."""
    parser = Parser(prog=PROG, description="Tooldesk: answer an agent's tool calls.")
    # subcommands' parsers are ``Parser`` too (one-line errors); typed as argparse's, which ``app.auth.cli`` takes
    commands = cast("Commands", parser.add_subparsers(dest="command", metavar="COMMAND", title="commands"))
    for add in COMMANDS:
        add(commands)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--host", help=argparse.SUPPRESS)
    parser.add_argument("--native", action="store_true", help="the same as the desktop command")
    parser.set_defaults(run=_serve)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; its exit status (2 after one line on stderr for a bad argument or setting)."""
    args = build_parser().parse_args(argv)
    if args.command is None and args.native:
        args.run = _desktop
    from alembic.script.revision import RevisionError
    from alembic.util.exc import CommandError
    from sqlalchemy.exc import DatabaseError

    from app.errors import SettingsError

    try:
        status: int = args.run(args)
    except SettingsError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    except DatabaseError as exc:  # a file that is not a database, or a damaged one
        print(f"{PROG}: the database cannot be used: {exc.orig}", file=sys.stderr)
        return 2
    except (
        CommandError,
        RevisionError,
    ) as exc:  # e.g. a database at a revision this version does not know (a newer Tooldesk)
        print(f"{PROG}: migrations: {exc}", file=sys.stderr)
        return 2
    return status


def _serve(args: argparse.Namespace) -> int:
    for name in ("port", "host"):
        if getattr(args, name, None) is not None:
            os.environ[f"TOOLDESK_{name.upper()}"] = str(getattr(args, name))
    from app.config import get_settings
    from app.main import serve as serve_console

    serve_console(get_settings())
    return 0


def _desktop(args: argparse.Namespace) -> int:
    from app.desktop import open_window

    return open_window(port=args.port)


def _db(args: argparse.Namespace) -> int:
    from app.migrations.cli import run as run_db_command

    return run_db_command(args)


def _settings(args: argparse.Namespace) -> int:
    from app.config import settings_table

    sys.stdout.write(settings_table())
    return 0


def _config_file(args: argparse.Namespace) -> int:
    """``export FILE`` / ``import FILE`` on the configured database, without starting the console."""
    from app.config import get_settings
    from app.db import make_engine
    from app.errors import TooldeskError
    from app.migrations.cli import missing_database
    from app.services import audit, config_io

    audit.run_as(audit.COMMAND_LINE)
    url = get_settings().database_url
    if args.command == "export" and (missing := missing_database(url)):
        print(f"tooldesk export: {missing}", file=sys.stderr)
        return 2
    engine = make_engine(url)
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
    finally:
        engine.dispose()
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
